"""Each plugin's ``fiftyone.yml`` lists exactly what its ``register`` registers, loaded by
FiftyOne's own plugin machinery (a name missing from the manifest is silently dropped there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from workbench.ui.catalog import operators

MANIFESTS = sorted((REPO / "plugins").glob("*/fiftyone.yml"))


def test_there_is_a_plugin() -> None:
    assert MANIFESTS


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_lists_exactly_the_registered_operators_and_panels(manifest: Path) -> None:
    from fiftyone.operators import Panel
    from fiftyone.plugins.context import PluginContext
    from fiftyone.plugins.definitions import PluginDefinition

    meta = yaml.safe_load(manifest.read_text())
    listed_ops, listed_panels = meta.get("operators") or [], meta.get("panels") or []
    context = PluginContext(PluginDefinition.from_disk(str(manifest)))
    context.register_all()
    assert not context.errors, "\n".join(context.errors)
    panels = [i.name for i in context.instances if isinstance(i, Panel)]
    ops = [i.name for i in context.instances if not isinstance(i, Panel)]
    for listed in (listed_ops, listed_panels):
        assert len(set(listed)) == len(listed), f"listed twice: {listed}"
    assert sorted(ops) == sorted(listed_ops)
    assert sorted(panels) == sorted(listed_panels)
    assert all(i.plugin_name == meta["name"] for i in context.instances)


def test_the_workbench_plugin_has_every_catalog_operator_and_both_panels() -> None:
    meta = yaml.safe_load((REPO / "plugins" / "workbench_plugin" / "fiftyone.yml").read_text())
    assert meta["operators"] == operators().names()
    assert {"wb_export_panel", "wb_loop_panel"} <= set(meta.get("panels") or [])
