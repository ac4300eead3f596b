"""Training and evaluation on real images, a real mongod and real Ultralytics (CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ConfigError, WorkbenchError
from workbench.store import runs
from workbench.training.dataset import export_yolo
from workbench.training.runner import TrainConfig, train

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_run_is_recorded(small_ws, trained) -> None:  # type: ignore[no-untyped-def]
    doc = runs.get_run(small_ws, "tiny", kind="train")
    assert doc and doc["status"] == "completed"
    assert doc["params"]["imgsz"] == 160 and doc["params"]["model_resolved"].endswith(
        "micro-relu.yaml")
    ds = small_ws.dataset
    assert sorted(doc["inputs"]["train_ids"]) == sorted(ds.match({"split": "train"}).values("id"))
    assert len(doc["inputs"]["val_ids"]) == 12 and len(doc["inputs"]["label_hash"]) == 64
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert {"train/box_loss", "metrics/mAP50(B)"} <= set(doc["epochs"][0])
    assert trained.epochs == 2 and doc["seconds"] > 0
    assert Path(trained.weights).is_file() and Path(trained.last).is_file()
    png = Path(trained.plots[0]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert doc["outputs"]["map50"] == trained.map50


def test_dataset_is_links_and_labels_match(small_ws, trained) -> None:  # type: ignore[no-untyped-def]
    root = Path(trained.dataset)
    images = sorted((root / "images" / "train").iterdir())
    assert len(images) == 24 and all(p.is_symlink() for p in images)
    sample = small_ws.dataset[os.readlink(images[0])]
    rows = np.loadtxt(root / "labels" / "train" / f"{images[0].stem}.txt", ndmin=2)
    got = [(small_ws.classes[int(r[0])], r[1] - r[3] / 2, r[2] - r[4] / 2) for r in rows]
    want = [(d.label, d.bounding_box[0], d.bounding_box[1])
            for d in sample.ground_truth.detections]
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1:] for g in got], [w[1:] for w in want], atol=1e-7)


def test_export_reused_until_labels_change(small_ws, trained) -> None:  # type: ignore[no-untyped-def]
    again = export_yolo(small_ws, "split:train", "split:val", small_ws.classes)
    assert again.reused and str(again.root) == trained.dataset
    ds = small_ws.dataset
    s = ds.match({"split": "train", "ground_truth.detections.0": {"$exists": True}}).first()
    old = s.ground_truth.detections[0].bounding_box
    s.ground_truth.detections[0].bounding_box = [old[0], old[1], old[2] * 0.9, old[3]]
    s.save()
    try:
        changed = export_yolo(small_ws, "split:train", "split:val", small_ws.classes)
        assert not changed.reused and changed.label_hash != again.label_hash
    finally:
        s.ground_truth.detections[0].bounding_box = old
        s.save()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"view": "tag:nothing"}, WorkbenchError, "has no labeled images"),
        ({"val": "tag:nothing"}, WorkbenchError, "run `workbench split`"),
        ({"run": "tiny"}, WorkbenchError, "exists; pass --resume"),
        ({"model": "nothing.yaml"}, ConfigError, "not found"),
        ({"resume": True, "run": "tiny"}, WorkbenchError, "nothing to resume"),
        ({"resume": True, "run": "ghost"}, WorkbenchError, "no training run named"),
        ({"overrides": {"not_an_arg": 1}}, ConfigError, "invalid training argument"),
    ],
)
def test_training_errors(small_ws, trained, kwargs: dict, error: type, message: str) -> None:  # type: ignore[no-untyped-def]
    cfg = {"model": "micro-relu", "imgsz": 96, "epochs": 1, "batch": 4, "workers": 0, **kwargs}
    with pytest.raises(error, match=message):
        train(small_ws, TrainConfig(**cfg))


def test_missing_classes_error(small_ws) -> None:  # type: ignore[no-untyped-def]
    from fiftyone import ViewField as F

    ds = small_ws.dataset
    fish_only = ds.match({"split": "train"}).filter_labels("ground_truth", F("label") == "fish")
    ids = [i for i, n in zip(*fish_only.values(["id", "ground_truth.detections"]), strict=True)
           if n]
    ds.select(ids).tag_samples("fishy")
    with pytest.raises(WorkbenchError, match=r"classes without a single box.*--allow-missing"):
        train(small_ws, TrainConfig(view="tag:fishy", model="micro-relu", imgsz=96, epochs=1))


def test_evaluate_stores_tp_fp_fn_and_report(small_ws, trained) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.evaluation import evaluate

    rep = evaluate(small_ws, "tiny", split="val")
    ds = small_ws.dataset
    val = ds.match({"split": "val"})
    schema = ds.get_field_schema()
    for suffix in ("_tp", "_fp", "_fn"):
        assert rep.eval_key + suffix in schema
    assert rep.pred_field in schema
    gt_flags = {f for fl in val.values(f"ground_truth.detections.{rep.eval_key}") for f in fl}
    assert gt_flags <= {"tp", "fn"} and gt_flags
    n_gt = sum(len(d) for d in val.values("ground_truth.detections"))
    assert sum(v["support"] for v in rep.per_class.values()) == n_gt
    assert sum(val.values(f"{rep.eval_key}_fn")) + sum(val.values(f"{rep.eval_key}_tp")) == n_gt
    assert 0.0 <= rep.map50_95 <= rep.map50 <= 1.0
    for name in ("report.json", "pr_curves.png", "confusion.png"):
        assert (Path(rep.report_dir) / name).is_file()
    matrix = np.asarray(rep.confusion["matrix"])
    assert matrix[:-1].sum() == n_gt  # every ground-truth box lands in one row
    doc = runs.get_run(small_ws, "tiny")
    assert doc and doc["evaluations"]["val"]["map50"] == rep.map50


def test_size_sweep_report(small_ws) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.sweep import SCORE_FORMULA, sweep

    report = sweep(small_ws, TrainConfig(model="micro-relu", epochs=1, batch=8, workers=0,
                                         run="sw"), [64, 96], latency_images=4)
    assert [r["imgsz"] for r in report["sizes"]] == [64, 96]
    for row in report["sizes"]:
        assert row["latency_ms_p50"] > 0 and row["params"] > 100_000
        assert row["peak_rss_mb"] > 50 and row["model_bytes"] > 0
        assert {"map50", "map50_95", "score"} <= set(row)
    assert report["best"]["score"] == max(r["score"] for r in report["sizes"])
    md = Path(report["markdown"]).read_text()
    assert SCORE_FORMULA in md and "| 96 |" in md
    assert Path(report["plot"]).read_bytes()[:4] == b"\x89PNG"
    assert runs.get_run(small_ws, "sw-64", kind="train")["status"] == "completed"


def test_predict_and_select_with_the_fixture_model(small_ws, trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The loop's middle on the fixture's tiny YAML-built model: predict the pool, select."""
    import shutil

    from tests.conftest import demo_images
    from workbench.ingestion.ingest import ingest
    from workbench.prediction.predict import predict
    from workbench.selection.select import SelectConfig, select

    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("test", n=10):
        shutil.copy(p, pool / p.name)
    ingest(small_ws, pool, "images")
    res = predict(small_ws, "tiny", run="tiny-pool", conf=0.001, batch=5)
    assert res.samples == 10 and res.field == "pred_tiny_pool"
    chosen = select(small_ws, SelectConfig(n=4, strategy="margin", run="tiny-pool",
                                           round="fixture-round"))
    assert chosen.selected == 4
    ds = small_ws.dataset
    queued = ds.match({"round_selected": "fixture-round"})
    assert len(queued) == 4 and set(queued.distinct("split")) == {"pool"}
    assert not set(chosen.sample_ids) & set(ds.match({"status": "labeled"}).values("id"))
