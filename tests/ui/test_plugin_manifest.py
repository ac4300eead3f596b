"""Each plugin's ``fiftyone.yml`` lists exactly the operators its ``register`` registers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

MANIFESTS = sorted((REPO / "plugins").glob("*/fiftyone.yml"))


class Recorder:
    """Stands in for FiftyOne's plugin context: keeps what ``register`` is given."""

    def __init__(self) -> None:
        self.registered: list[Any] = []

    def register(self, cls: Any) -> None:
        self.registered.append(cls)


def _load(folder: Path) -> Any:
    name = f"_manifest_check_{folder.name}"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def test_there_is_a_plugin() -> None:
    assert MANIFESTS


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_lists_exactly_the_registered_operators(manifest: Path) -> None:
    listed = yaml.safe_load(manifest.read_text()).get("operators") or []
    recorder = Recorder()
    _load(manifest.parent).register(recorder)
    registered = [cls().config.name for cls in recorder.registered]
    assert len(set(registered)) == len(registered), f"an operator registered twice: {registered}"
    assert len(set(listed)) == len(listed), f"an operator listed twice: {listed}"
    assert sorted(listed) == sorted(registered)
