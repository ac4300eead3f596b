"""The backend registry and the predict/import configs (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli.common import default
from workbench.errors import ConfigError, UnknownNameError
from workbench.prediction.api import (
    BACKENDS,
    PredictConfig,
    PredictionsImportConfig,
    make_predictor,
)
from workbench.prediction.cli import _backend_help


def test_backends_are_registered_with_their_facts() -> None:
    assert BACKENDS.names() == ["onnxruntime", "ultralytics"]
    assert all(e.meta["help"] and "fixed_size_onnx" in e.meta for e in BACKENDS)
    assert _backend_help() == "onnxruntime (default) | ultralytics"


def test_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="onnxruntime, ultralytics"):
        PredictConfig(model="m.pt", backend="tensorrt")
    with pytest.raises(UnknownNameError, match="onnxruntime, ultralytics"):
        make_predictor(None, "m.pt", "tensorrt", None, 1)  # type: ignore[arg-type]


def test_ultralytics_backend_needs_a_pt() -> None:
    with pytest.raises(ConfigError, match=r"needs a \.pt"):
        make_predictor(None, "m.onnx", "ultralytics", None, 1)  # type: ignore[arg-type]


def test_defaults_of_predict_and_import() -> None:
    config = PredictConfig(model="m.pt")
    assert (config.conf, config.iou, config.batch, config.view, config.backend) == (
        0.01, 0.7, 16, "pool", "onnxruntime")
    assert (config.imgsz, config.device, config.tta, config.embeddings) == (
        None, "cpu", False, False)
    assert default(PredictConfig, "chunk") == 512
    imported = PredictionsImportConfig(Path("p.jsonl"), "r")
    assert (imported.skip_bad, imported.replace) == (False, False)
