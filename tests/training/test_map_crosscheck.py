"""workbench's mAP (FiftyOne COCO evaluation) against Ultralytics' own val() on the same
weights and images."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import DEMO

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"


def test_map_matches_ultralytics_val(tmp_path: Path, mongo_uri: str) -> None:
    from workbench.ingestion.ingest import ingest
    from workbench.store.workspace import init_workspace
    from workbench.training.dataset import export_yolo
    from workbench.training.evaluation import EVAL_CONF, EVAL_MAX_DET, evaluate
    from workbench.training.weights import offline_environment

    ws = init_workspace(tmp_path / "ws", name=f"t-{uuid.uuid4().hex[:10]}",
                        database_uri=mongo_uri)
    try:
        ingest(ws, DEMO, "yolo")
        ours = evaluate(ws, model=str(CHECKPOINT), split="val")
        data = export_yolo(ws, "split:train", "split:val", ws.classes)
        offline_environment()
        from ultralytics import YOLO

        theirs = YOLO(str(CHECKPOINT)).val(data=str(data.yaml), imgsz=224, batch=16,
                                           conf=EVAL_CONF, max_det=EVAL_MAX_DET, iou=0.7,
                                           device="cpu", plots=False, verbose=False)
        assert ours.images == 127
        assert ours.map50 > 0.05, "the checkpoint should detect something; check the weights"
        assert abs(ours.map50 - float(theirs.box.map50)) <= 0.02, (ours.map50, theirs.box.map50)
        assert abs(ours.map50_95 - float(theirs.box.map)) <= 0.02, (ours.map50_95, theirs.box.map)
    finally:
        ws.dataset.delete()
