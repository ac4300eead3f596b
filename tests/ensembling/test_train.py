"""``ensemble train``: two presets, one epoch each from the shipped checkpoint, on 16 + 8 real
images; every member predicts the validation split, takes its operating point there and the
members are fused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import DEMO
from tests.training.conftest import covering_workspace
from workbench.calibration.api import operating_point
from workbench.ensembling.api import PRESETS, EnsembleError, EnsembleTrainConfig, train_ensemble
from workbench.ensembling.train import _cut
from workbench.errors import ConfigError
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
        assert [(m["preset"], m["augment"], m["rule"]) for m in result.members] == [
            ("recall", "strong", "recall:0.8"), ("precision", "none", "precision:0.8")]
        for m in result.members:
            # the operating point is the member's own: its rule on its validation predictions
            assert m["val_run"] == f"{name}-{m['preset']}-val"
            val_doc = runs.get_run(ws, m["val_run"])
            assert val_doc is not None and val_doc["params"]["view"] == "split:val"
            threshold, met = operating_point(ws, m["val_run"], "split:val", m["rule"])
            assert m["rule_met"] == met
            assert m["conf"] == pytest.approx(_cut(PRESETS.get(m["preset"]), threshold, met))
            if not met:
                assert any(w.startswith(m["preset"] + ":") for w in result.warnings)
            assert m["train_run"] == f"{name}-{m['preset']}"
            assert m["prediction_run"] == f"{name}-{m['preset']}-pred"
            train_doc = runs.get_run(ws, m["train_run"])
            assert train_doc is not None and train_doc["kind"] == "train"
            assert train_doc["params"]["augment"] == m["augment"]
            pred_doc = runs.get_run(ws, m["prediction_run"])
            assert pred_doc is not None and pred_doc["params"]["conf"] == m["conf"]
        recall, precision = result.members
        if recall["conf"] <= precision["conf"]:
            assert recall["val_run"] and precision["val_run"]
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
        assert any(s.startswith("validating recall") for s in stages)
        with pytest.raises(EnsembleError, match="exist already; choose another --name"):
            train_ensemble(ws, config)
    finally:
        ws.dataset.delete()
        ws.runs.delete_many({"dataset": ws.config.name})


@pytest.mark.parametrize(("preset", "threshold", "met", "expected"), [
    ("recall", 0.02, True, 0.02),       # met: the rule's threshold
    ("recall", 0.3, False, 0.05),       # unmet recall keeps the lower, the fixed 0.05
    ("recall", 0.01, False, 0.01),
    ("balanced", 0.4, True, 0.4),
    ("precision", 0.12, False, 0.12),   # unmet precision keeps the best-F1 threshold
    ("precision", 0.7, True, 0.7),
])
def test_cut_falls_back_by_the_rule(preset: str, threshold: float, met: bool,
                                    expected: float) -> None:
    assert _cut(PRESETS.get(preset), threshold, met) == pytest.approx(expected)


def test_operating_points_are_checked() -> None:
    with pytest.raises(ConfigError, match="--operating-points must be one of val, fixed"):
        EnsembleTrainConfig(operating_points="median")
    assert EnsembleTrainConfig().operating_points == "val"
    assert {e.name: e.value.rule for e in PRESETS} == {
        "recall": "recall:0.8", "balanced": "f1", "precision": "precision:0.8"}
