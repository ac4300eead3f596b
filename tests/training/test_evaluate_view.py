"""``evaluate --view``, ``--model X.onnx``, the COCO extras and critical classes, on real demo
images, a real mongod and real models (the tiny trained run and the demo checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEMO, make_yolo
from tests.test_cli_e2e import wb
from tests.training.conftest import covering_images

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"


@pytest.fixture(scope="module")
def two_sources(small_ws, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``small_ws`` plus 6 more val images ingested as source ``camB``."""
    from workbench.ingestion.ingest import ingest

    used = {p.name for p in covering_images("val", 12)}
    extra = [p for p in sorted((DEMO / "valid" / "images").glob("*.jpg"))
             if p.name not in used][-6:]
    data = make_yolo(tmp_path_factory.mktemp("camB") / "data", {"val": extra})
    ingest(small_ws, data, "yolo", source="camB")
    return small_ws


def _numpy_map(ws, view: str, pred_field: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """mAP50 and mAP50-95 of the stored predictions, by :mod:`workbench.core.cocoeval`."""
    from workbench.core.boxes import xywhn_to_xyxyn
    from workbench.core.cocoeval import coco_evaluate
    from workbench.store import query
    from workbench.store.evaluation import labeled_view_boxes
    from workbench.store.views import labeled_match

    gt = labeled_view_boxes(ws, view)
    pr = query.box_arrays(ws, labeled_match(view), field=pred_field, attrs=("confidence",))
    assert gt["ids"] == pr["ids"]
    wh = np.c_[gt["width"], gt["height"]]
    index = {c: k for k, c in enumerate(ws.classes)}
    g = xywhn_to_xyxyn(gt["xywhn"]) * np.tile(wh[gt["sample_index"]], 2)
    p = xywhn_to_xyxyn(pr["xywhn"]) * np.tile(wh[pr["sample_index"]], 2)
    m = coco_evaluate(pr["sample_index"], p, pr["confidence"],
                      [index[x] for x in pr["label"]], gt["sample_index"], g,
                      [index[x] for x in gt["label"]], len(ws.classes))
    return m.ap50, m.ap


def test_view_evaluates_only_its_samples(two_sources, trained) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.api import EvalConfig, evaluate

    ws = two_sources
    cam_b = ws.dataset.match({"source": "camB"})
    n_b = len(cam_b)
    assert n_b == 6
    default = evaluate(ws, EvalConfig(run=trained.run))
    only_b = evaluate(ws, EvalConfig(run=trained.run, view="source:camB"))
    assert default.images == 12 + n_b and default.view == "split:val"
    assert only_b.images == n_b and only_b.view == "source:camB"
    assert only_b.eval_key != default.eval_key and "source_camB" in only_b.eval_key
    assert Path(only_b.report_dir).name == f"{trained.run}-source_camB"
    assert (Path(only_b.report_dir) / "report.json").is_file()
    # the per-sample verdicts of the view's evaluation are on camB's samples only
    counted = ws.dataset.exists(f"{only_b.eval_key}_tp")
    assert set(counted.distinct("source")) == {"camB"} and len(counted) == n_b
    # a plain split view is the --split evaluation (same key, same folder)
    same = evaluate(ws, EvalConfig(run=trained.run, view="split:val", split="test"))
    assert same.eval_key == default.eval_key and same.images == default.images
    both = evaluate(ws, EvalConfig(run=trained.run, view="split:val,source:camB"))
    assert both.images == n_b
    for rep in (default, only_b):
        assert 0.0 <= rep.ap75 <= 1.0 and 0.0 <= rep.ar <= 1.0
        for row in rep.per_class.values():
            assert {"recall", "recall_at_precision", "conf_at_precision", "ap75", "ar"} <= set(row)


def test_numpy_map_matches_fiftyone_and_recall_matches_the_verdicts(two_sources) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.api import EvalConfig, evaluate

    ws = two_sources
    rep = evaluate(ws, EvalConfig(model=str(CHECKPOINT), deploy_conf=0.1,
                                  critical=["fish", "jellyfish"], min_recall=1.0))
    assert rep.map50 > 0.02, "the (weak) demo checkpoint should detect something"
    ap50, ap = _numpy_map(ws, "split:val", rep.pred_field)
    assert abs(ap50 - rep.map50) <= 0.01, (ap50, rep.map50)
    assert abs(ap - rep.map50_95) <= 0.01, (ap, rep.map50_95)
    assert rep.ap75 <= rep.map50 + 1e-9
    sized = [x for x in (rep.ap_small, rep.ap_medium, rep.ap_large) if x is not None]
    assert sized and all(0.0 <= x <= 1.0 for x in sized)
    # per-class recall at the deploy threshold, recounted from the stored per-box verdicts
    ds = ws.dataset.match({"split": "val", "status": "labeled"})
    labels, confs, verdicts = ds.values([f"{rep.pred_field}.detections.label",
                                         f"{rep.pred_field}.detections.confidence",
                                         f"{rep.pred_field}.detections.{rep.eval_key}"])
    flat = [(lab, c, v) for ls, cs, vs in zip(labels, confs, verdicts, strict=True)
            for lab, c, v in zip(ls or [], cs or [], vs or [], strict=True)]
    for name, row in rep.per_class.items():
        if row["support"]:
            hits = sum(1 for lab, c, v in flat if lab == name and v == "tp" and c >= 0.1)
            assert row["recall"] == pytest.approx(hits / row["support"], abs=1e-6), name
    below = [c for c in ("fish", "jellyfish")
             if rep.per_class[c]["support"] and rep.per_class[c]["recall"] < 1.0]
    assert rep.critical_below == below and below, "recall 1.0 is out of reach on 18 images"
    relaxed = evaluate(ws, EvalConfig(model=str(CHECKPOINT), critical=["fish"], min_recall=0.0))
    assert relaxed.critical_below == [] and relaxed.critical == ["fish"]


def test_unknown_critical_class_and_empty_view(two_sources) -> None:  # type: ignore[no-untyped-def]
    from workbench.errors import ConfigError, WorkbenchError
    from workbench.training.api import EvalConfig, evaluate

    with pytest.raises(ConfigError, match="lionfish"):
        evaluate(two_sources, EvalConfig(model=str(CHECKPOINT), critical=["lionfish"]))
    with pytest.raises(WorkbenchError, match="no labeled images"):
        evaluate(two_sources, EvalConfig(model=str(CHECKPOINT), view="source:nowhere"))
    with pytest.raises(ConfigError, match="invalid view"):
        evaluate(two_sources, EvalConfig(model=str(CHECKPOINT), view="nonsense:x"))


def test_onnx_export_evaluates_like_the_pt(two_sources, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.deployment.api import ExportConfig, export
    from workbench.errors import ConfigError
    from workbench.store import runs
    from workbench.training.api import EvalConfig, evaluate

    ws = two_sources
    exported = export(ws, ExportConfig(run=str(CHECKPOINT), target="onnx", imgsz=224,
                                       out=tmp_path, fidelity_images=2))
    onnx = Path(exported.path)
    assert onnx.suffix == ".onnx"
    pt = evaluate(ws, EvalConfig(model=str(CHECKPOINT), view="source:camB,split:val"))
    ox = evaluate(ws, EvalConfig(model=str(onnx), view="source:camB,split:val"))
    assert ox.run == onnx.parent.name and ox.images == pt.images
    assert pt.map50 > 0.0
    assert abs(ox.map50 - pt.map50) <= 0.05, (ox.map50, pt.map50)
    records = [r for r in runs.list_runs(ws, "evaluate")
               if r["params"]["model"] == str(onnx.resolve())]
    assert records and all(r["params"]["imgsz"] == 224 for r in records)
    bad = tmp_path / "plain.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"plain\.onnx"):
        evaluate(ws, EvalConfig(model=str(bad)))


def test_cli_end_to_end(two_sources) -> None:  # type: ignore[no-untyped-def]
    root = str(two_sources.root)
    out = wb("evaluate", "--model", str(CHECKPOINT), "--view", "source:camB", "--critical",
             "fish", "--min-recall", "1.0", "--deploy-conf", "0.1", "--target-precision",
             "0.8", "-w", root, "--json")
    rep = json.loads(out.stdout)
    assert rep["view"] == "source:camB" and rep["images"] == 6
    assert rep["target_precision"] == 0.8 and rep["critical"] == ["fish"]
    for key in ("ap75", "ap_small", "ap_medium", "ap_large", "ar", "critical_below"):
        assert key in rep
    table = wb("evaluate", "--model", str(CHECKPOINT), "--view", "source:camB", "-w", root)
    assert "AP75" in table.stdout and "AR@100" in table.stdout and "recall@0.25" in table.stdout
    bad = wb("evaluate", "--model", str(CHECKPOINT), "--view", "nonsense:x", "-w", root,
             check=False)
    assert bad.returncode != 0
    assert "invalid view" in bad.stderr and "Traceback" not in bad.stderr
