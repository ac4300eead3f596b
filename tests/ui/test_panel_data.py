"""What the export and loop panels show, read from a real workspace (real mongod, real runs)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_images
from tests.training.conftest import covering_workspace
from workbench.deployment.api import (
    TARGETS,
    BenchmarkConfig,
    ExportConfig,
    benchmark,
    export,
    toolchain_status,
)
from workbench.errors import ConfigError, UnknownNameError
from workbench.ui import panel_data as pd
from workbench.ui.forms import config_defaults

MiB = 1024 * 1024
RUN = "panel-tiny"  # run names are unique per database: not another module's "tiny"


# -- pure: choices, params, verdicts --------------------------------------------------------


def test_defaults_are_read_from_the_config() -> None:
    defaults = config_defaults(ExportConfig)
    fields = {f.name: f for f in dataclasses.fields(ExportConfig)}
    assert "run" not in defaults  # no default: not offered
    assert set(defaults) == {n for n, f in fields.items() if f.default is not dataclasses.MISSING}
    assert defaults["out"] == str(fields["out"].default)  # a Path, JSON-ready
    assert defaults["target"] == fields["target"].default
    assert set(pd.EXPORT_FORM_FIELDS) <= set(fields)
    json.dumps(defaults)


def test_targets_come_from_the_registry() -> None:
    rows = pd.target_choices()
    assert [r["name"] for r in rows] == TARGETS.names()
    for r in rows:
        spec = TARGETS.get(r["name"])
        assert r["label"] == spec.help and r["backend"] == spec.backend
        assert (r["platform"], r["memory_budget"]) == (spec.platform, spec.memory_budget)
    assert [r["name"] for r in rows if r["platform"]] == ["rknn"]
    assert [r["name"] for r in rows if r["memory_budget"]] == ["k210"]


def test_toolchains_name_their_targets_and_install_command() -> None:
    rows = pd.toolchain_rows()
    assert len(rows) == len(toolchain_status())
    assert sorted(t for r in rows for t in r["targets"]) == sorted(TARGETS.names())
    for r in rows:
        assert bool(r["install"]) != r["available"]
        missing = pd.missing_toolchain(r["targets"][0], rows)
        assert missing is (None if r["available"] else r)
    assert pd.missing_toolchain("no-such-target", rows) is None


def test_view_choices() -> None:
    views = ["all", "pool", "split:train", "split:val", "round:r1"]
    assert pd.view_choices(views, "split:val") == [
        "split:val", "all", "pool", "split:train", "round:r1", "none"]
    assert pd.view_choices([], "split:train") == ["split:train", "none"]


def test_export_params_are_config_fields_checked_by_the_config() -> None:
    params = pd.export_params("run-1", {"target": "rknn", "platform": "rk3566", "imgsz": None,
                                        "calibration": "", "max_drop": 1.5, "nonsense": 3})
    assert params == {"run": "run-1", "target": "rknn", "platform": "rk3566", "max_drop": 1.5}
    assert ExportConfig(**params).platform == "rk3566"
    budget = {"platform": "rk3566", "max_model_mb": 4.0, "max_memory_mb": 5.0}
    assert pd.export_params("r", {"target": "onnx", **budget}) == {"run": "r", "target": "onnx"}
    assert pd.export_params("r", {"target": "k210", **budget}) == {
        "run": "r", "target": "k210", "max_model_mb": 4.0, "max_memory_mb": 5.0}
    assert pd.export_params("r", {"platform": "rk3566"}) == {"run": "r"}  # default: onnx
    with pytest.raises(UnknownNameError, match="onnx-int8"):
        pd.export_params("run-1", {"target": "tflite"})
    with pytest.raises(ConfigError, match="multiple of 32"):
        pd.export_params("run-1", {"imgsz": 100})


@pytest.mark.parametrize(("report", "expected"), [
    ({"target": "onnx", "fits": None}, "no memory budget for target onnx"),
    ({"target": "k210", "fits": True, "budget_mb": {"model": 5.5, "memory": 6.0},
      "memory_bytes": {"model": 2 * MiB, "total": 4 * MiB}},
     "fits the budget (model 2.00 MB, total 4.00 MB; budget: model 5.5 MB, memory 6.0 MB)"),
    ({"target": "k210", "fits": False, "budget_mb": {"model": 1.0, "memory": 6.0},
      "memory_bytes": {"model": 2 * MiB, "total": 7 * MiB}},
     "does not fit: the model is 2.00 MB > 1.0 MB; it needs 7.00 MB > 6.0 MB"),
])
def test_budget_verdict(report: dict[str, Any], expected: str) -> None:
    assert pd.budget_verdict(report) == expected


def test_learning_curve_orders_trainings_and_places_rounds() -> None:
    status = {"trainings": [{"run": "b", "train_images": 40, "map50": 0.5},
                            {"run": "a", "train_images": 20, "map50": 0.3},
                            {"run": "c", "train_images": None, "map50": 0.1}],
              "rounds": [{"round": "r1", "model_train_images": 20, "model_map50": 0.3},
                         {"round": "r0", "model_train_images": None, "model_map50": None}]}
    runs, rounds = pd.learning_curve(status)
    assert (runs["x"], runs["y"], runs["text"]) == ([20, 40], [0.3, 0.5], ["a", "b"])
    assert (rounds["x"], rounds["y"], rounds["text"]) == ([20], [0.3], ["r1"])
    assert pd.learning_curve({"trainings": [], "rounds": []}) == []


# -- export panel on a real workspace: a trained run, its ONNX export, a benchmark ----------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Any:
    from workbench.training.api import TrainConfig, train

    ws = covering_workspace(tmp_path_factory.mktemp("panel-export"), mongo_uri, 12, 8)
    train(ws, TrainConfig(model="micro-relu", imgsz=160, epochs=1, batch=8, run=RUN,
                          workers=0))
    result = export(ws, ExportConfig(run=RUN, target="onnx", val_limit=4,
                                     fidelity_images=2))
    bench = benchmark(ws, BenchmarkConfig(paths=[Path(result.path).parent], limit=4))
    yield ws, result, bench
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})


@pytest.mark.integration
@pytest.mark.slow
def test_export_panel_lists_the_run_with_its_export(exported: Any) -> None:
    ws, result, _ = exported
    data = pd.export_panel_data(ws)
    json.dumps(data, default=str)
    [run] = data["runs"]
    assert (run["run"], run["trained"], run["status"]) == (RUN, True, "completed")
    [row] = run["exports"]
    report = result.report
    assert (row["export_id"], row["target"], row["run"]) == (result.export_id, "onnx", RUN)
    assert row["size_mb"] == round(Path(report["path"]).stat().st_size / MiB, 3)
    assert (row["map50"], row["map50_fp32"]) == (report["map50"], report["map50_fp32"])
    assert row["cosine"] == pytest.approx(1.0) and row["latency_ms"] == report["latency_ms"]
    assert [t["name"] for t in data["targets"]] == TARGETS.names()
    assert data["defaults"]["target"] == ExportConfig.target
    assert data["views"][0] == ExportConfig.calibration and "split:val" in data["views"]
    assert data["missing"] == [t for t in data["toolchains"] if not t["available"]]


@pytest.mark.integration
@pytest.mark.slow
def test_export_report_figures_come_from_the_record(exported: Any) -> None:
    ws, result, _ = exported
    shown = pd.export_report(ws, result.export_id)
    assert shown is not None
    report = json.loads((Path(result.path).parent / "report.json").read_text())
    assert shown["path"] == report["path"] and shown["target"] == "onnx"
    assert shown["size_mb"] == round(report["size_bytes"] / MiB, 3)
    assert (shown["cosine"], shown["max_abs"]) == (report["fidelity"]["cosine"],
                                                   report["fidelity"]["max_abs"])
    assert (shown["map50"], shown["map50_fp32"]) == (report["map50"], report["map50_fp32"])
    assert shown["drop_points"] == report["gate"]["drop_points"]
    assert shown["latency"] == {"kind": "host", "ms": report["latency_ms"],
                                "fp32_ms": report["latency_ms_fp32"]}
    assert shown["budget"] == "no memory budget for target onnx" and shown["fits"] is None
    md = shown["markdown"]
    assert result.export_id in md and f"{report['latency_ms']:.2f} ms" in md
    assert f"{shown['size_mb']:.2f} MB" in md and "cosine 1.00000" in md
    assert shown["thresholds"] == report["thresholds"]  # what deploy.yaml carries
    assert "Operating thresholds" in md
    assert all(f"| {c} |" in md for c in report["thresholds"]["values"])
    assert pd.export_report(ws, "export-does-not-exist") is None


@pytest.mark.integration
@pytest.mark.slow
def test_tradeoff_plot_has_the_benchmark_and_the_exports(exported: Any) -> None:
    ws, result, bench = exported
    measured, own = pd.tradeoff_traces(ws)
    [model] = bench.models
    assert measured["name"] == f"benchmark {bench.id}"
    assert (measured["x"], measured["y"], measured["text"]) == (
        [model["latency_p50_ms"]], [model["map50"]], [model["model"]])
    assert own["x"] == [result.report["latency_ms"]] and own["y"] == [result.map50]
    assert all(8 <= s <= 40 for t in (measured, own) for s in t["marker"]["size"])


@pytest.mark.integration
@pytest.mark.slow
def test_export_params_for_the_run_build_its_config(exported: Any) -> None:
    ws, _, _ = exported
    data = pd.export_panel_data(ws)
    form = {k: data["defaults"].get(k) for k in pd.EXPORT_FORM_FIELDS}
    params = pd.export_params(data["runs"][0]["run"], form)
    assert params["run"] == RUN and "imgsz" not in params  # None: the model's own size
    assert dataclasses.asdict(ExportConfig(**params)) == dataclasses.asdict(
        ExportConfig(run=RUN))


# -- loop panel: rounds selected, sent out ---------------------------------------------------


def _pool_with_round(ws: Any, tmp_path: Path) -> None:
    from workbench.ingestion.api import ingest
    from workbench.prediction.api import PredictionsImportConfig, import_predictions
    from workbench.selection.api import SelectConfig, select

    ws.add_classes(["fish", "shark", "penguin"])
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=6):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    lines = [json.dumps({"filepath": fp, "detections": [{
        "label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.3 + 0.1 * i,
        "class_probs": [0.4 + 0.1 * i, 0.3, 0.3 - 0.1 * i]}]})
        for i, fp in enumerate(sorted(ws.dataset.values("filepath"))[:3])]
    (tmp_path / "preds.jsonl").write_text("\n".join(lines) + "\n")
    import_predictions(ws, PredictionsImportConfig(tmp_path / "preds.jsonl", "p1"))
    select(ws, SelectConfig(n=3, strategy="entropy", round="r1"))


@pytest.mark.integration
def test_loop_panel_shows_rounds_queue_and_next_step(workspace: Any, tmp_path: Path) -> None:
    empty = pd.loop_panel_data(workspace)
    assert empty["rounds"] == [] and empty["queued"] == 0 and empty["curve"] == []
    assert [a["verb"] for a in empty["actions"] if a["recommended"]] == ["loop_next"]
    assert "No round yet" in pd.loop_hint(empty)

    _pool_with_round(workspace, tmp_path)
    data = pd.loop_panel_data(workspace)
    json.dumps(data)
    [r1] = data["rounds"]
    assert (r1["round"], r1["strategy"], r1["selected"]) == ("r1", "entropy", 3)
    assert (r1["queued"], r1["in_annotation"], r1["labeled"]) == (3, 0, 0)
    assert (data["queued"], data["in_annotation"], data["latest_round"]) == (3, 0, "r1")
    actions = {a["verb"]: a for a in data["actions"]}
    assert list(actions) == ["select", "annotate_export", "loop_next"]
    assert [v for v, a in actions.items() if a["recommended"]] == ["annotate_export"]
    assert actions["annotate_export"]["params"] == {
        "round": "r1", "out": str(workspace.root / "annotation" / "r1.zip"),
        "pre_annotations": "p1"}
    from workbench.loop.api import NextConfig

    assert actions["loop_next"]["params"] == {"budget": NextConfig.budget,
                                              "strategy": NextConfig.strategy}
    assert "3 images are queued" in pd.loop_hint(data)

    from workbench.annotation.api import PackageConfig, export_package

    export_package(workspace, PackageConfig(out=Path(actions["annotate_export"]["params"]["out"]),
                                            round="r1"))
    sent = pd.loop_panel_data(workspace)
    assert (sent["rounds"][0]["queued"], sent["rounds"][0]["in_annotation"]) == (0, 3)
    assert (sent["queued"], sent["in_annotation"]) == (0, 3)
    assert not any(a["recommended"] for a in sent["actions"])
    assert "import the returned annotations" in pd.loop_hint(sent)


# -- the panels themselves, run through FiftyOne's own ExecutionContext -----------------------


def _panels_module() -> Any:
    import importlib.util

    from tests.conftest import REPO

    path = REPO / "plugins" / "workbench_plugin" / "panels.py"
    spec = importlib.util.spec_from_file_location("_workbench_panels_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call(panel: Any, ws: Any, method: str, state: dict[str, Any]) -> tuple[Any, list[Any]]:
    """Run a panel event as the App does: the method, then ``render``; returns the context
    and the requests it sent to the App."""
    from fiftyone.operators.executor import ExecutionContext, Executor

    executor = Executor()
    ctx = ExecutionContext(request_params={"dataset_name": ws.config.name, "params": {
        "panel_id": "panel-1", "panel_state": state, "__method__": method}}, executor=executor)
    panel.execute(ctx)
    return ctx, executor.to_json()["requests"]


def _rendered(requests: list[Any]) -> dict[str, Any]:
    [out] = [r["params"]["output"] for r in requests if r["operator_uri"] == "show_panel_output"]
    props: dict[str, Any] = out["type"]["properties"]
    return props


def _prompts(requests: list[Any]) -> list[dict[str, Any]]:
    return [r["params"] for r in requests if r["operator_uri"] == "prompt_user_for_operation"]


def test_panels_are_listed_with_their_names() -> None:
    panels = _panels_module()
    assert [(p().config.name, p().config.label) for p in panels.PANELS] == [
        ("wb_export_panel", "Workbench: export"), ("wb_loop_panel", "Workbench: loop")]


@pytest.mark.integration
@pytest.mark.slow
def test_export_panel_loads_renders_and_prompts_the_export(exported: Any) -> None:
    import workbench.ui.api as app

    assert hasattr(app, "export_panel_data"), "workbench/ui/api.py must re-export panel_data"
    ws, result, _ = exported
    panel = _panels_module().ExportPanel()
    ctx, requests = _call(panel, ws, "on_load", {})
    state = ctx.panel_state
    assert (state["run"], state["export"], state["target"]) == (RUN, result.export_id, "onnx")
    assert result.export_id in state["report_text"]
    props = _rendered(requests)
    assert props["target"]["type"]["values"] == TARGETS.names()
    assert "platform" not in props and "max_model_mb" not in props
    assert any(r["operator_uri"] == "patch_panel_data" for r in requests)  # the trade-off plot

    _, requests = _call(panel, ws, "run_export", state)
    [prompt] = _prompts(requests)
    assert prompt["operator_uri"] == "@workbench/workbench/wb_export"
    assert prompt["params"] == pd.export_params(RUN, {k: state.get(k)
                                                         for k in pd.EXPORT_FORM_FIELDS})

    rknn = {**state, "target": "rknn"}
    _, requests = _call(panel, ws, "on_change_field", rknn)
    props = _rendered(requests)
    assert props["platform"]["type"]["values"] == list(pd.deployment.RKNN_PLATFORMS)
    missing = pd.missing_toolchain("rknn", pd.toolchain_rows())
    assert ("toolchain_warning" in props) == (missing is not None)


@pytest.mark.integration
def test_loop_panel_loads_renders_and_prompts_the_next_step(workspace: Any,
                                                            tmp_path: Path) -> None:
    import workbench.ui.api as app

    assert hasattr(app, "loop_panel_data"), "workbench/ui/api.py must re-export panel_data"
    _pool_with_round(workspace, tmp_path)
    panel = _panels_module().LoopPanel()
    ctx, requests = _call(panel, workspace, "on_load", {})
    assert [r["round"] for r in ctx.panel_state["rounds_table"]] == ["r1"]
    props = _rendered(requests)
    steps = props["steps"]["type"]["properties"]
    assert [k for k, v in steps.items() if v["view"]["variant"] == "contained"] == [
        "step_annotate_export"]
    _, requests = _call(panel, workspace, "run_annotate_export", ctx.panel_state)
    [prompt] = _prompts(requests)
    assert prompt["operator_uri"] == "@workbench/workbench/wb_annotate_export"
    assert prompt["params"]["round"] == "r1" and prompt["params"]["pre_annotations"] == "p1"
    for verb in ("select", "loop_next"):
        _, requests = _call(panel, workspace, f"run_{verb}", ctx.panel_state)
        assert [p["operator_uri"] for p in _prompts(requests)] == [
            f"@workbench/workbench/wb_{verb}"]
