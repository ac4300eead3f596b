"""workbench's mAP (FiftyOne COCO evaluation) against Ultralytics' own val() on the same
weights and images."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import DEMO

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"


def test_map50_matches_ultralytics_val(tmp_path: Path, mongo_uri: str) -> None:
    from workbench.evaluation import evaluate
    from workbench.ingestion import ingest
    from workbench.store.workspace import init_workspace
    from workbench.training.runner import TrainConfig, train

    ws = init_workspace(tmp_path / "ws", name=f"t-{uuid.uuid4().hex[:10]}",
                        database_uri=mongo_uri)
    try:
        ingest(ws, DEMO, "yolo")
        ids = ws.dataset.match({"split": "train"}).take(48, seed=0).values("id")
        ws.dataset.select(ids).tag_samples("ft")
        # One short fine-tuning epoch from the shipped checkpoint: a real run with real weights.
        result = train(ws, TrainConfig(model=str(CHECKPOINT), view="tag:ft", imgsz=224, epochs=1,
                                       batch=16, run="ft", workers=0,
                                       overrides={"lr0": 0.0005, "warmup_epochs": 0.0}))
        ours = evaluate(ws, "ft", split="val")
        from ultralytics import YOLO

        theirs = YOLO(result.weights).val(data=str(Path(result.dataset) / "data.yaml"),
                                          imgsz=224, batch=16, conf=0.001, iou=0.7,
                                          device="cpu", plots=False, verbose=False)
        assert ours.images == 127
        assert ours.map50 > 0.1, "the checkpoint should detect something; check the weights"
        assert abs(ours.map50 - float(theirs.box.map50)) <= 0.02, (ours.map50, theirs.box.map50)
        assert abs(ours.map50_95 - float(theirs.box.map)) <= 0.02, (ours.map50_95, theirs.box.map)
    finally:
        ws.dataset.delete()
