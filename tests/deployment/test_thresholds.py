"""Per-class operating thresholds: from a calibrate run or a file into every export's
deploy.yaml, the MaixPy script, run_trt.py and `workbench benchmark`."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import json
import math
import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import DEMO
from tests.training.conftest import covering_workspace
from workbench.core.types import Predictions
from workbench.deployment import thresholds as thr
from workbench.deployment.artifacts import deploy_settings
from workbench.deployment.exporting import ExportConfig, export_model
from workbench.deployment.maixpy import write_maixpy_script
from workbench.deployment.rawhead import HeadInfo
from workbench.errors import ConfigError
from workbench.store import runs
from workbench.store.runs import RunKind

WEIGHTS = str(DEMO / "weights" / "yolov8n-224.pt")
MICRO = str(DEMO / "weights" / "micro-relu-224.pt")
CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]
TEMPLATES = Path(thr.__file__).resolve().parent / "templates"
integration = [pytest.mark.integration, pytest.mark.slow]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def record_calibration(ws: Any, model: str | None, values: dict[str, float] | None,
                       name: str | None = None) -> str:
    """A ``calibrate`` run as `workbench calibrate` records it."""
    name = name or _name("cal")
    runs.record_run(ws, RunKind.CALIBRATE, name,
                    {"run": "pred-demo", "model": model, "view": "split:val",
                     "thresholds_rule": "f1" if values else None},
                    {"thresholds": values}, dt.datetime.now(dt.UTC))
    return name


# -- pure parts ------------------------------------------------------------------------------


def test_every_class_gets_a_threshold_in_model_order() -> None:
    assert thr.per_class(CLASSES[:3], {"penguin": 0.5, "fish": 0.1}) == {
        "fish": 0.1, "jellyfish": 0.25, "penguin": 0.5}
    settings = deploy_settings("onnx", 224, CLASSES, "r", None, "model.onnx")
    assert list(settings["thresholds"]) == CLASSES
    assert set(settings["thresholds"].values()) == {0.25}
    assert (settings["thresholds_source"], settings["thresholds_run"]) == ("none", None)


@pytest.mark.parametrize(("values", "message"), [
    ({"fish": 1.5}, r"numbers in \[0, 1\]; got fish: 1.5"),
    ({"fish": -0.1, "shark": "high"}, r"fish: -0.1, shark: 'high'"),
    ({"fish": True}, r"fish: True"),
    ({"fish": math.nan}, r"fish: nan"),
    (["fish", 0.3], "expected a mapping of class name to threshold"),
    ({}, "expected a mapping"),
])
def test_bad_values_are_refused_with_what_was_wrong(values: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        thr.check_values(values, "--thresholds x.yaml")


def test_unknown_classes_name_the_model_classes() -> None:
    choice = thr.ThresholdChoice("/tmp/t.yaml", None, {"fish": 0.3, "whale": 0.5, "crab": 0.2})
    with pytest.raises(ConfigError, match=r"does not predict: crab, whale; the model's classes "
                                          r"are fish, jellyfish, penguin"):
        thr.check_classes(choice, CLASSES)
    thr.check_classes(thr.ThresholdChoice("f", None, {"fish": 0.3}), CLASSES)


def test_a_file_is_a_mapping_or_holds_one_under_thresholds(tmp_path: Path) -> None:
    plain = tmp_path / "t.yaml"
    plain.write_text("fish: 0.4\nshark: 0.7\n")
    assert thr.read_file(plain) == {"fish": 0.4, "shark": 0.7}
    nested = tmp_path / "deploy.json"
    nested.write_text(json.dumps({"target": "onnx", "thresholds": {"puffin": 0.05}}))
    assert thr.read_file(nested) == {"puffin": 0.05}
    broken = tmp_path / "b.json"
    broken.write_text("{fish: ")
    with pytest.raises(ConfigError, match="cannot read it"):
        thr.read_file(broken)


def test_counts_at_apply_each_class_threshold() -> None:
    """Two ground-truth boxes; a fish found at 0.6, a shark at 0.3 on the other box and a
    stray shark at 0.9: the counts follow each class's own threshold."""
    gt_xyxy = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9]])
    gt_cls = np.array([0, 4])  # fish, shark (workspace order)
    preds = Predictions(np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9],
                                  [0.0, 0.6, 0.1, 0.7]]),
                        np.array([0.6, 0.3, 0.9]), np.array([0, 1, 1]), np.array([0, 0, 0]))
    names = ["fish", "shark"]  # the model's order differs from the workspace's
    strict = thr.counts_at(preds, names, {"fish": 0.5, "shark": 0.5}, np.zeros(2, np.int64),
                           gt_xyxy, gt_cls, CLASSES)
    assert (strict["detections"], strict["true_positives"]) == (2, 1)
    assert (strict["precision"], strict["recall"]) == (0.5, 0.5)
    shark = next(r for r in strict["per_class"] if r["class"] == "shark")
    assert (shark["detections"], shark["true_positives"], shark["recall"]) == (1, 0, 0.0)
    loose = thr.counts_at(preds, names, {"fish": 0.5, "shark": 0.2}, np.zeros(2, np.int64),
                          gt_xyxy, gt_cls, CLASSES)
    assert (loose["detections"], loose["true_positives"], loose["recall"]) == (3, 2, 1.0)
    assert next(r for r in loose["per_class"] if r["class"] == "penguin")["recall"] is None


# -- the device scripts ----------------------------------------------------------------------


def _run_trt() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("run_trt_template", TEMPLATES / "run_trt.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no TensorRT needed until main()
    return module


def test_run_trt_keeps_each_box_at_its_class_threshold() -> None:
    run_trt = _run_trt()
    deploy = {"classes": ["fish", "shark"], "postprocess": {"score_threshold": 0.25},
              "thresholds": {"fish": 0.5, "shark": 0.2}}
    np.testing.assert_allclose(run_trt.class_thresholds(deploy), [0.5, 0.2])
    np.testing.assert_allclose(run_trt.class_thresholds(deploy, conf=0.1), [0.1, 0.1])
    old = {"classes": ["fish", "shark"], "postprocess": {"score_threshold": 0.3}}
    np.testing.assert_allclose(run_trt.class_thresholds(old), [0.3, 0.3])
    # (4 + C, A): four far-apart anchors of 10 px; class scores per anchor
    out = np.zeros((6, 4))
    out[0] = [10, 50, 90, 130]
    out[1] = 20
    out[2:4] = 10
    out[4] = [0.45, 0.6, 0.1, 0.05]  # fish
    out[5] = [0.1, 0.1, 0.3, 0.15]  # shark
    boxes, scores, cls = run_trt.detections(out, run_trt.class_thresholds(deploy), 0.7)
    assert sorted(zip(cls.tolist(), np.round(scores, 2).tolist(), strict=True)) == [
        (0, 0.6), (1, 0.3)]  # fish 0.45 < 0.5 dropped, shark 0.3 >= 0.2 kept, 0.15 not
    np.testing.assert_allclose(boxes[cls == 1][0], [85, 15, 95, 25])
    _, scores, _ = run_trt.detections(out, run_trt.class_thresholds(deploy, conf=0.1), 0.7)
    assert len(scores) == 4


def _board_namespace(source: str) -> dict[str, Any]:
    """Run the MaixPy script up to its camera loop, with stand-ins for the board modules."""
    body = source[:source.rindex("\nmain()")]
    board = {name: types.ModuleType(name) for name in ("image", "lcd", "sensor", "maix")}
    board["maix"].KPU = object  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in board}
    sys.modules.update(board)
    namespace: dict[str, Any] = {}
    try:
        exec(compile(body, "maixpy_k210.py", "exec"), namespace)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name)
            else:
                sys.modules[name] = module
    return namespace


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_maixpy_script_keeps_each_decoded_box_at_its_class_threshold(tmp_path: Path) -> None:
    info = HeadInfo(names=["fish", "shark"], imgsz=32, strides=[8.0], reg_max=1,
                    shapes=[(4 + 2, 4, 4)])
    choice = thr.ThresholdChoice("cal-x", "cal-x", {"fish": 0.5, "shark": 0.35})
    deploy = deploy_settings("k210", 32, info.names, "r", "split:train", "model.kmodel",
                             head=info.to_dict(), thresholds=choice)
    source = write_maixpy_script(tmp_path, info, deploy).read_text()
    tree = ast.parse(source)  # MicroPython: no f-strings, annotations or walrus
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr | ast.AnnAssign
                                                         | ast.NamedExpr)]
    assert all(a.annotation is None for n in ast.walk(tree) if isinstance(n, ast.arguments)
               for a in n.args)
    assert "keep(decode(outputs))" in source
    ns = _board_namespace(source)
    assert ns["THRESHOLDS"] == [0.5, 0.35] and ns["CONF"] == 0.25
    assert ns["LOGIT"] == pytest.approx(_logit(0.35))  # decode stops at the lowest class's
    plane = 16
    values = [0.5] * (4 * plane) + [-10.0] * (2 * plane)  # box sides, then class logits
    values[4 * plane + 0] = _logit(0.4)  # cell 0: fish 0.4 (< 0.5)
    values[4 * plane + 10] = _logit(0.6)  # cell 10: fish 0.6
    values[5 * plane + 5] = _logit(0.4)  # cell 5: shark 0.4 (>= 0.35)
    values[5 * plane + 15] = _logit(0.3)  # cell 15: shark 0.3 (< 0.35: not even decoded)
    decoded = ns["decode"]([values])
    assert sorted((round(b[4], 3), b[5]) for b in decoded) == [(0.4, 0), (0.4, 1), (0.6, 0)]
    kept = ns["keep"](decoded)
    assert sorted((round(b[4], 3), b[5]) for b in kept) == [(0.4, 1), (0.6, 0)]
    assert ns["logit"](0.0) < -1e29 and ns["logit"](1.0) > 1e29


# -- exports ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thr_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Any]:
    ws = covering_workspace(tmp_path_factory.mktemp("thresholds"), mongo_uri, 16, 12)
    yield ws
    ws.dataset.delete()


def _deploy(report: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (Path(report["path"]).parent / "deploy.yaml").read_text())
    return loaded


@pytest.mark.integration
@pytest.mark.slow
def test_auto_takes_the_newest_calibration_of_these_weights(thr_ws: Any,
                                                             tmp_path: Path) -> None:
    assert thr_ws.classes == CLASSES
    record_calibration(thr_ws, str(Path(WEIGHTS).resolve()), {"fish": 0.9})  # older
    chosen = record_calibration(thr_ws, str(Path(WEIGHTS).resolve()),
                                {"fish": 0.31, "shark": 0.42})
    record_calibration(thr_ws, str(Path(WEIGHTS).resolve()), None)  # newer, no thresholds
    record_calibration(thr_ws, MICRO, {"fish": 0.05})  # newer, other weights
    record_calibration(thr_ws, None, {"fish": 0.07})  # newer, no model recorded
    report = export_model(thr_ws, ExportConfig(run=WEIGHTS, target="onnx", val_limit=4,
                                               out=tmp_path / "auto"))
    deploy = _deploy(report)
    expected = {**dict.fromkeys(CLASSES, 0.25), "fish": 0.31, "shark": 0.42}
    assert deploy["thresholds"] == expected and list(deploy["thresholds"]) == CLASSES
    assert (deploy["thresholds_source"], deploy["thresholds_run"]) == ("auto", chosen)
    assert deploy["postprocess"]["score_threshold"] == 0.25
    saved = json.loads((Path(report["path"]).parent / "report.json").read_text())
    assert saved["thresholds"] == {"source": "auto", "run": chosen, "global": 0.25,
                                   "values": expected}
    recorded = runs.get_run(thr_ws, report["export_id"], RunKind.EXPORT)
    assert recorded is not None and recorded["params"]["thresholds"] == "auto"
    assert recorded["outputs"]["thresholds"]["values"] == expected

    plain = export_model(thr_ws, ExportConfig(run=WEIGHTS, target="onnx", val_limit=4,
                                              thresholds="none", out=tmp_path / "none"))
    deploy = _deploy(plain)
    assert deploy["thresholds"] == dict.fromkeys(CLASSES, 0.25)
    assert (deploy["thresholds_source"], deploy["thresholds_run"]) == ("none", None)
    assert plain["map50"] == report["map50"]  # thresholds change nothing measured


@pytest.mark.integration
@pytest.mark.slow
def test_k210_export_carries_a_calibrate_runs_thresholds(thr_ws: Any, tmp_path: Path) -> None:
    from tests.deployment.test_devices import toolchain

    toolchain("k210")
    name = record_calibration(thr_ws, str(Path(MICRO).resolve()),
                              {"penguin": 0.6, "stingray": 0.12})
    report = export_model(thr_ws, ExportConfig(run=MICRO, target="k210", calibration_count=8,
                                               val_limit=4, thresholds=name,
                                               out=tmp_path / "k210"))
    deploy = _deploy(report)
    expected = {**dict.fromkeys(CLASSES, 0.25), "penguin": 0.6, "stingray": 0.12}
    assert deploy["thresholds"] == expected and list(deploy["thresholds"]) == CLASSES
    assert (deploy["thresholds_source"], deploy["thresholds_run"]) == (name, name)
    assert report["thresholds"]["values"] == expected
    source = Path(report["device_script"]).read_text()
    ns = _board_namespace(source)
    assert ns["THRESHOLDS"] == [expected[c] for c in CLASSES]
    assert ns["LOGIT"] == pytest.approx(_logit(0.12))


@pytest.mark.integration
@pytest.mark.slow
def test_file_thresholds_reach_deploy_yaml_and_benchmark_counts(thr_ws: Any,
                                                                 tmp_path: Path) -> None:
    """The demo model is unsure (its scores stay below 0.2): at the global 0.25 it finds
    nothing; a file that lowers fish to 0.05 and raises penguin to 1 changes the counts."""
    from workbench.deployment.benchmark import benchmark
    from workbench.deployment.fidelity import ValSet, predict_val
    from workbench.prediction.api import OnnxPredictor

    wanted = tmp_path / "thresholds.yaml"
    wanted.write_text("fish: 0.05\npenguin: 1.0\n")
    low = export_model(thr_ws, ExportConfig(run=WEIGHTS, target="onnx", val_limit=4,
                                            thresholds=str(wanted), out=tmp_path / "file"))
    deploy = _deploy(low)
    per_class = {**dict.fromkeys(CLASSES, 0.25), "fish": 0.05, "penguin": 1.0}
    assert deploy["thresholds"] == per_class and list(deploy["thresholds"]) == CLASSES
    assert deploy["thresholds_source"] == str(wanted.resolve())
    assert deploy["thresholds_run"] is None
    plain = export_model(thr_ws, ExportConfig(run=WEIGHTS, target="onnx", val_limit=4,
                                              thresholds="none", out=tmp_path / "plain"))
    result = benchmark(thr_ws, [Path(plain["path"]).parent, Path(low["path"]).parent],
                       limit=8, out=tmp_path / "bench")
    at_25, at_file = result["models"]
    assert (at_25["thresholds_source"], at_file["thresholds_source"]) == (
        "none", str(wanted.resolve()))
    assert at_25["map50"] == at_file["map50"]  # mAP does not depend on the thresholds
    # what the model predicts on the same images, counted here at each class's threshold
    preds, _ = predict_val(OnnxPredictor(low["path"], threads=1),
                           ValSet.load(thr_ws, "split:val", 8))
    for row, values in ((at_25, dict.fromkeys(CLASSES, 0.25)), (at_file, per_class)):
        cut = np.array([values[c] for c in CLASSES])
        expected = np.bincount(preds.class_id[preds.confidence >= cut[preds.class_id]],
                               minlength=len(CLASSES))
        assert [r["detections"] for r in row["per_class"]] == expected.tolist()
        assert [r["threshold"] for r in row["per_class"]] == cut.tolist()
        assert row["detections"] == int(expected.sum())
        assert row["precision"] == pytest.approx(
            row["true_positives"] / max(row["detections"], 1), abs=1e-6)
    fish = [next(r for r in row["per_class"] if r["class"] == "fish") for row in (at_25,
                                                                                  at_file)]
    assert fish[0]["detections"] == 0 < fish[1]["detections"]
    assert at_file["true_positives"] > at_25["true_positives"] == 0
    assert at_file["recall"] > at_25["recall"]
    assert next(r for r in at_file["per_class"] if r["class"] == "penguin")["detections"] == 0
    assert "| detections | precision | recall |" in Path(result["files"]["markdown"]).read_text()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("case", "message"), [
    ("unknown", r"classes the model does not predict: whale; the model's classes are fish"),
    ("range", r"thresholds must be numbers in \[0, 1\]; got shark: 1.2"),
    ("empty", r"picked no thresholds; `workbench calibrate --run pred-demo --thresholds f1`"),
    ("missing", r"no run named 'cal-nothing-here'"),
])
def test_bad_thresholds_fail_the_cli_before_any_file(thr_ws: Any, tmp_path: Path, case: str,
                                                     message: str) -> None:
    import re

    from tests.test_cli_e2e import wb

    if case == "unknown":
        spec = tmp_path / "t.yaml"
        spec.write_text("fish: 0.3\nwhale: 0.5\n")
    elif case == "range":
        spec = tmp_path / "t.json"
        spec.write_text(json.dumps({"shark": 1.2}))
    elif case == "empty":
        spec = Path(record_calibration(thr_ws, str(Path(WEIGHTS).resolve()), None))
    else:
        spec = Path("cal-nothing-here")
    before = len(runs.list_runs(thr_ws, RunKind.EXPORT))
    out = tmp_path / "exports"
    proc = wb("export", "--run", WEIGHTS, "--target", "onnx", "--thresholds", str(spec),
              "--out", str(out), "-w", str(thr_ws.root), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert re.search(message, " ".join(proc.stderr.split())), proc.stderr
    assert not out.exists()
    assert len(runs.list_runs(thr_ws, RunKind.EXPORT)) == before


@pytest.mark.integration
@pytest.mark.slow
def test_app_export_offers_thresholds_and_shows_them(thr_ws: Any, tmp_path: Path) -> None:
    from tests.ui.plugin_ctx import execute
    from workbench.ui.api import operators

    form = {f.name: f for f in operators().get("wb_export").form(None)}
    assert form["thresholds"].default == "auto" and form["thresholds"].other
    assert list(form["thresholds"].choices) == ["auto", "none"]
    name = record_calibration(thr_ws, None, {"shark": 0.42, "puffin": 0.07})
    out, _ = execute(thr_ws, "wb_export", delegated=True, run=WEIGHTS, target="onnx",
                     val_limit=4, thresholds=name, out=str(tmp_path / "app"))
    assert out["result"]["thresholds"]["values"]["shark"] == 0.42
    summary = out["summary"]
    assert f"**Operating thresholds** ({name}; global 0.25)" in summary
    assert "| shark | 0.420 |" in summary and "| fish | 0.250 |" in summary
    assert out["result"]["export_id"] in summary  # the export report is still shown


@pytest.mark.integration
@pytest.mark.slow
def test_cli_export_prints_the_thresholds(thr_ws: Any, tmp_path: Path) -> None:
    from tests.test_cli_e2e import wb

    spec = tmp_path / "t.json"
    spec.write_text(json.dumps({"starfish": 0.6}))
    proc = wb("export", "--run", WEIGHTS, "--target", "onnx", "--val-limit", "4",
              "--thresholds", str(spec), "--out", str(tmp_path / "cli"), "-w", str(thr_ws.root))
    printed = "".join(proc.stdout.split())  # rich wraps long lines
    assert f"thresholds({spec.resolve()}):fish0.250," in printed
    assert "starfish0.600" in printed
    deploy = yaml.safe_load((tmp_path / "cli" / "yolov8n-224-onnx" / "deploy.yaml").read_text())
    assert deploy["thresholds"]["starfish"] == 0.6


@pytest.mark.integration
@pytest.mark.slow
def test_deploy_yaml_credits_the_training_images_sources(thr_ws: Any, tmp_path: Path) -> None:
    """A model trained on images with a license (FathomNet, Hugging Face ...) says so in
    deploy.yaml: the license/attribution pairs of its training view."""
    train_ids = [d["_id"] for d in thr_ws.samples.find({"split": "train"}, {"_id": 1})]
    thr_ws.samples.update_many({"_id": {"$in": train_ids[:5]}}, {"$set": {
        "license": "CC BY 4.0", "attribution": "FathomNet image 1234, MBARI"}})
    name = _name("trained")
    runs.record_run(thr_ws, RunKind.TRAIN, name, {"view": "split:train", "val": "split:val"},
                    {"weights": str(Path(WEIGHTS).resolve())}, dt.datetime.now(dt.UTC))
    try:
        report = export_model(thr_ws, ExportConfig(run=name, target="onnx", val_limit=4,
                                                   out=tmp_path / "credits"))
        assert _deploy(report)["data_attribution"] == [
            {"license": "CC BY 4.0", "attribution": "FathomNet image 1234, MBARI", "images": 5}]
        plain = export_model(thr_ws, ExportConfig(run=WEIGHTS, target="onnx", val_limit=4,
                                                  out=tmp_path / "file"))
        assert _deploy(plain)["data_attribution"] == []  # a weights file: no training view
    finally:
        thr_ws.samples.update_many({}, {"$unset": {"license": "", "attribution": ""}})
