"""workbench predict on real demo images with the shipped checkpoint, both backends."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fiftyone import ViewField as F

from tests.conftest import CLASSES, DEMO, demo_images
from workbench.errors import ConfigError, WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.prediction.backends.base import PredictOptions
from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx
from workbench.prediction.backends.torch import TorchPredictor
from workbench.prediction.predict import predict
from workbench.selection.api import SelectConfig, select

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHECKPOINT = str(DEMO / "weights" / "yolov8n-224.pt")


def _ingest_pool(ws, tmp_path: Path, split: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` real demo images of ``split`` as the workspace's unlabeled pool."""
    ws.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(split, n=n):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")


def test_backends_give_the_same_boxes(tmp_path: Path) -> None:
    paths = [str(p) for p in demo_images("valid", n=24)]
    onnx_path = export_onnx(CHECKPOINT, tmp_path / "m.onnx", batch=8)
    options = PredictOptions(conf=0.05, batch=8)
    a, ea = TorchPredictor(CHECKPOINT).predict(paths, options, embeddings=True)
    b, eb = OnnxPredictor(str(onnx_path)).predict(paths, options, embeddings=True)
    assert len(a) > 20 and len(a) == len(b)
    np.testing.assert_array_equal(a.image_index, b.image_index)
    np.testing.assert_array_equal(a.class_id, b.class_id)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-4)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)
    assert a.class_probs is not None and b.class_probs is not None
    assert a.class_probs.shape == (len(a), len(CLASSES))
    np.testing.assert_allclose(a.class_probs, b.class_probs, atol=1e-4)
    assert (a.class_probs.argmax(axis=1) == a.class_id).all()
    assert ea is not None and eb is not None and ea.shape[0] == 24
    np.testing.assert_allclose(ea, eb, atol=1e-3)


def test_predict_pool_then_select(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _ingest_pool(workspace, tmp_path, "test", 20)
    res = predict(workspace, CHECKPOINT, run="p", embeddings=True, batch=8)
    assert res.samples == 20 and res.boxes > 0 and res.embeddings_field == "emb_p"
    ds = workspace.dataset
    det = ds.match({"pred_p.detections.0": {"$exists": True}}).first().pred_p.detections[0]
    assert len(det.class_probs) == len(CLASSES) and 0 < det.confidence <= 1
    assert CLASSES[int(np.argmax(det.class_probs))] == det.label
    # What the App reads: the display copy, unc_ fields, the embeddings map, the colours.
    assert res.display_field == "show_p" and res.visualization == "viz_p"
    assert "unc_p_entropy" in res.uncertainty_fields
    ds.reload()
    assert ds.count("show_p.detections") == len(
        ds.filter_labels("pred_p", F("confidence") >= 0.25, only_matches=False)
        .values("pred_p.detections", unwind=True))
    assert ds.values("unc_p_entropy") == ds.values("scores_p.entropy")
    assert ds.load_brain_results("viz_p").points.shape == (20, 2)
    assert ds.app_config.active_fields.paths == ["ground_truth", "show_p"]
    assert {f["path"] for f in ds.app_config.color_scheme.fields} >= {"ground_truth", "pred_p",
                                                                      "show_p"}
    fast = select(workspace, SelectConfig(n=5, strategy="margin", round="r1", dry_run=True))
    slow = select(workspace, SelectConfig(n=5, strategy="margin", aggregate="max",
                                          class_weights={"fish": 1.0}, dry_run=True))
    assert fast.sample_ids == slow.sample_ids
    div = select(workspace, SelectConfig(n=5, diversity="coreset", embeddings="emb_p",
                                         round="r1"))
    assert div.selected == 5
    assert len(ds.match({"status": "queued"})) == 5
    with pytest.raises(WorkbenchError, match="exists"):
        predict(workspace, CHECKPOINT, run="p")
    with pytest.raises(ConfigError, match="neither a file nor a finished training run"):
        predict(workspace, "no-such-model", run="q")
    with pytest.raises(ConfigError, match=r"needs a \.pt"):
        predict(workspace, str(next((workspace.root / ".workbench" / "onnx").glob("*.onnx"))),
                run="q", backend="ultralytics")


def test_tta_and_ensemble_disagreement(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _ingest_pool(workspace, tmp_path, "valid", 12)
    res = predict(workspace, CHECKPOINT, run="t", tta=True, batch=4)
    ds = workspace.dataset
    passes = {p for ps in ds.values("pred_t_tta.detections.tta_pass") for p in ps}
    assert passes == {0, 1, 2, 3}
    n_main = sum(len(d) for d in ds.values("pred_t.detections"))
    n_pass0 = sum(1 for ps in ds.values("pred_t_tta.detections.tta_pass") for p in ps if p == 0)
    assert n_main == n_pass0 == res.boxes
    dis = [s["tta_disagreement"] for s in ds.values("scores_t")]
    assert all(0.0 <= d <= 1.0 for d in dis) and max(dis) > 0
    sel = select(workspace, SelectConfig(n=3, strategy="tta-disagreement", run="t",
                                         dry_run=True))
    assert sel.scores == sorted(dis, reverse=True)[:3]
    predict(workspace, CHECKPOINT, run="u", backend="ultralytics", conf=0.05, batch=4)
    with pytest.raises(WorkbenchError, match="no TTA passes"):
        select(workspace, SelectConfig(n=3, strategy="tta-disagreement", run="u", dry_run=True))
    ens = select(workspace, SelectConfig(n=4, strategy="ensemble-disagreement", run="t,u",
                                         dry_run=True))
    assert ens.selected == 4 and all(0.0 <= s <= 1.0 for s in ens.scores)
    with pytest.raises(ConfigError, match="needs --run A,B"):
        SelectConfig(n=2, strategy="ensemble-disagreement", run="t")
