"""Annotation configs and registries: defaults in one place, names from the registries."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.annotation.api import (
    AUTO,
    BACKENDS,
    FORMATS,
    ImportConfig,
    PackageConfig,
    PullConfig,
    PushConfig,
    format_choices,
)
from workbench.annotation.bundle import ZipLimits
from workbench.cli.common import default
from workbench.errors import UnknownNameError


def test_formats_and_backends_are_registered() -> None:
    assert FORMATS.names() == ["coco", "yolo", "voc", "labelstudio", "cvat"]
    assert format_choices() == [AUTO, *FORMATS.names()]
    assert BACKENDS.names() == ["labelstudio"]


def test_defaults_live_in_the_package_config() -> None:
    conf = default(PackageConfig, "pre_annotation_conf")
    assert conf == 0.25
    assert PushConfig().pre_annotation_conf == conf
    limits = ImportConfig(Path("x")).limits
    assert (limits.max_total_bytes, limits.max_entries) == (
        ZipLimits().max_total_bytes, ZipLimits().max_entries)


@pytest.mark.parametrize("make", [
    lambda: ImportConfig(Path("x"), format="pascal"),
    lambda: PushConfig(backend="cvat-server"),
    lambda: PullConfig(backend="cvat-server"),
])
def test_unknown_names_list_the_valid_ones(make: object) -> None:
    with pytest.raises(UnknownNameError, match="valid"):
        make()  # type: ignore[operator]
