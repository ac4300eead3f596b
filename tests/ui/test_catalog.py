"""The operator catalog: every capability has operators; forms, choices and names hold together."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.cli.main import CAPABILITIES as CLI_CAPABILITIES
from workbench.deployment.api import RKNN_PLATFORMS, TARGETS
from workbench.selection.api import DIVERSITY, STRATEGIES
from workbench.ui import choices
from workbench.ui.catalog import CAPABILITIES, operators
from workbench.ui.operators import OperatorSpec

SPECS = [e.value for e in operators()]


def test_every_capability_with_commands_has_operators() -> None:
    assert set(CAPABILITIES) == set(CLI_CAPABILITIES) - {"ui"}


def test_the_issue_s_operators_exist() -> None:
    names = set(operators().names())
    assert {"wb_ingest", "wb_split", "wb_check", "wb_train", "wb_evaluate", "wb_predict",
            "wb_select", "wb_annotate_export", "wb_annotate_import", "wb_annotate_undo",
            "wb_ls_push", "wb_ls_pull", "wb_loop_next", "wb_loop_status", "wb_export",
            "wb_benchmark", "wb_status", "wb_visualize", "wb_queue_selected",
            "wb_import_predictions"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_spec_holds_together(spec: OperatorSpec) -> None:
    assert spec.name.startswith("wb_") and spec.label.startswith("Workbench: ")
    assert spec.description
    if spec.config is None:
        assert not spec.choices and not spec.hidden
        return
    fields = {f.name for f in dataclasses.fields(spec.config)}
    assert set(spec.hidden) <= fields, "hidden names a field the config does not have"
    assert set(spec.choices) <= fields, "choices name a field the config does not have"
    assert set(spec.fixed) <= fields
    assert {c.source for c in spec.choices.values() if c.source} <= set(choices.SOURCES)
    form = spec.form(None)
    assert {f.name for f in form} == fields - set(spec.hidden)
    assert all(f.description for f in form), "every field explains itself (config docstring)"


@pytest.mark.parametrize(("operator", "field", "registry"), [
    ("wb_select", "strategy", STRATEGIES.names(hand_picked=False)),
    ("wb_select", "diversity", DIVERSITY.names()),
    ("wb_loop_next", "strategy", STRATEGIES.names(multi_run=False, hand_picked=False)),
    ("wb_export", "target", TARGETS.names()),
    ("wb_export", "platform", list(RKNN_PLATFORMS)),
])
def test_static_choices_are_the_registries(operator: str, field: str, registry: list[str]
                                           ) -> None:
    form = {f.name: f for f in operators().get(operator).form(None)}
    assert list(form[field].choices) == registry
    default = next(f.default for f in dataclasses.fields(operators().get(operator).config)
                   if f.name == field)
    assert form[field].default == default


def test_docs_name_every_operator() -> None:
    from tests.conftest import REPO

    text = (REPO / "docs" / "app.md").read_text()
    missing = [name for name in operators().names() if f"`{name}`" not in text]
    assert not missing, f"docs/app.md does not describe {missing}"
