"""Optional packages: imported when present, a message naming the install command when not."""

from __future__ import annotations

import json

import pytest

from workbench.optional import MissingPackageError, require


def test_a_present_package_is_imported() -> None:
    assert require("json", "sources") is json


@pytest.mark.parametrize(("module", "extra", "package", "expected"), [
    ("no_such_module_4d1", "sources", None, "pip install 'workbench[sources]' (or pip install "
                                            "'no_such_module_4d1')"),
    ("no_such_module_4d1", "ray", "ray[data]", "pip install 'workbench[ray]' (or pip install "
                                               "'ray[data]')"),
])
def test_a_missing_package_names_the_install_command(module: str, extra: str,
                                                      package: str | None,
                                                      expected: str) -> None:
    with pytest.raises(MissingPackageError) as info:
        require(module, extra, package, what="ingest --format video")
    assert str(info.value).startswith("ingest --format video needs the Python package")
    assert expected in str(info.value)
