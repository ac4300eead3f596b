"""``wb_ensemble``: the App operator, through the shipped plugin with a real ExecutionContext."""

from __future__ import annotations

import dataclasses

import pytest

from tests.ensembling.conftest import EnsembleWorkspace, state, stored
from tests.ui.plugin_ctx import context, execute, operator
from workbench.ensembling.api import (
    METHODS,
    OPERATING_POINTS,
    PRESETS,
    EnsembleConfig,
    EnsembleTrainConfig,
)
from workbench.ui.catalog import operators


def test_the_operator_is_in_the_catalog_with_the_registry_s_methods() -> None:
    spec = operators().get("wb_ensemble")
    assert spec.config is EnsembleConfig and not spec.long
    form = {f.name: f for f in spec.form(None)}
    assert set(form) == {f.name for f in dataclasses.fields(EnsembleConfig)}
    assert list(form["method"].choices) == METHODS.names()
    assert form["method"].default == "wbf"
    assert form["runs"].kind == "list" and form["runs"].required
    assert form["weights"].kind == "list"



def test_the_train_operator_is_long_with_the_presets_and_operating_points() -> None:
    spec = operators().get("wb_ensemble_train")
    assert spec.config is EnsembleTrainConfig and spec.long
    form = {f.name: f for f in spec.form(None)}
    assert set(form) == {f.name for f in dataclasses.fields(EnsembleTrainConfig)}
    assert list(form["presets"].choices) == PRESETS.names()
    assert form["presets"].kind == "list"
    assert tuple(form["operating_points"].choices) == OPERATING_POINTS
    assert form["operating_points"].default == "val"


@pytest.mark.integration
def test_the_operator_fuses_lists_runs_and_refuses(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    form = {f.name: f for f in operator("wb_ensemble").spec.form(ws)}
    assert set(form["runs"].choices) == {"a", "b", "c", "a2"}
    out, requests = execute(ws, "wb_ensemble", runs=["a", "b"], method="wbf", weights="2, 1",
                            run="app-e")
    assert out["ok"], out["summary"]
    assert (out["result"]["run"], out["result"]["boxes"]) == ("app-e", 4)
    assert [d["agreement"] for d in stored(ws, "pred_app_e", ids[2])] == [2]
    assert "reload_dataset" in {r["operator_uri"].rsplit("/", 1)[-1] for r in requests}
    assert "app-e" in {f.choices for f in operator("wb_ensemble").spec.form(ws)
                       if f.name == "runs"}.pop()
    before = state(ws)
    refused, _ = execute(ws, "wb_ensemble", runs=["a"])
    assert not refused["ok"] and "at least two" in refused["summary"]
    unknown, _ = execute(ws, "wb_ensemble", runs=["a", "nope"])
    assert not unknown["ok"] and "nope" in unknown["summary"]
    assert state(ws) == before
    prop = operator("wb_ensemble").resolve_input(context(ws, {"runs": ["a"]}))
    assert "at least two" in prop.type.properties["problem"].view.description
