"""The prediction capability's public surface: predict, imported predictions, detector backends."""

from __future__ import annotations

from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx
from workbench.prediction.backends.preprocess import load_batch, load_letterboxed, load_uint8
from workbench.prediction.imported import import_predictions
from workbench.prediction.predict import PredictResult, make_predictor, predict, resolve_weights

__all__ = ["OnnxPredictor", "PredictOptions", "PredictResult", "Predictor", "export_onnx",
           "import_predictions", "load_batch", "load_letterboxed", "load_uint8", "make_predictor",
           "predict", "resolve_weights"]
