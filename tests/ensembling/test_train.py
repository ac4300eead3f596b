"""``ensemble train``: two presets, one epoch each from the shipped checkpoint, on 16 + 8 real
images; every member predicts the validation split and the members are fused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import DEMO
from tests.training.conftest import covering_workspace
from workbench.ensembling.api import EnsembleError, EnsembleTrainConfig, train_ensemble
from workbench.store import runs, schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEIGHTS = DEMO / "weights" / "yolov8n-224.pt"


def test_two_presets_train_predict_and_fuse(tmp_path: Path, mongo_uri: str) -> None:
    ws = covering_workspace(tmp_path, mongo_uri, 16, 8)
    name = f"ens-{uuid.uuid4().hex[:6]}"
    stages: list[str] = []
    try:
        config = EnsembleTrainConfig(presets=["recall", "precision"], model=str(WEIGHTS),
                                     epochs=1, imgsz=160, batch=8, workers=0, patience=0,
                                     name=name, predict="split:val")
        result = train_ensemble(ws, config,
                                progress=lambda stage, done, total: stages.append(stage))
        assert result.name == name and result.run == name
        assert [(m["preset"], m["augment"], m["conf"]) for m in result.members] == [
            ("recall", "strong", 0.05), ("precision", "none", 0.5)]
        for m in result.members:
            assert m["train_run"] == f"{name}-{m['preset']}"
            assert m["prediction_run"] == f"{name}-{m['preset']}-pred"
            train_doc = runs.get_run(ws, m["train_run"])
            assert train_doc is not None and train_doc["kind"] == "train"
            assert train_doc["params"]["augment"] == m["augment"]
            pred_doc = runs.get_run(ws, m["prediction_run"])
            assert pred_doc is not None and pred_doc["params"]["conf"] == m["conf"]
        recall, precision = result.members
        assert recall["prediction_boxes"] >= precision["prediction_boxes"]
        fused = result.fused
        assert fused is not None and fused["members"] == [m["prediction_run"]
                                                          for m in result.members]
        assert fused["images"] == 8 and fused["skipped"] == 0
        assert fused["boxes"] == sum(fused["agreement"].values())
        doc = runs.get_run(ws, name)
        assert doc is not None and doc["kind"] == "ensemble"
        fields = set(schema.field_names(ws))
        field = fused["field"]
        assert {field, fused["display_field"], fused["scores_field"]} <= fields
        assert any(s.startswith("training recall") for s in stages)
        assert any(s.startswith("predicting precision") for s in stages) and "fusing" in stages
        with pytest.raises(EnsembleError, match="exist already; choose another --name"):
            train_ensemble(ws, config)
    finally:
        ws.dataset.delete()
        ws.runs.delete_many({"dataset": ws.config.name})
