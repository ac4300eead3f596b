"""The prediction capability's public surface: predict, imported predictions, detector backends,
2-D maps of embeddings for the App."""

from __future__ import annotations

from workbench.media.preprocess import (
    load_batch,
    load_letterboxed,
    load_uint8,
    to_uint8,
)
from workbench.prediction import imported
from workbench.prediction import predict as _predict
from workbench.prediction.backends import BACKENDS
from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx
from workbench.prediction.backends.torch import load_detection_model
from workbench.prediction.imported import (
    ImportResult,
    PredictionImportError,
    PredictionsImportConfig,
)
from workbench.prediction.predict import (
    PredictConfig,
    PredictResult,
    Progress,
    VisualizeConfig,
    VisualizeResult,
    latest_embeddings_run,
    make_predictor,
    resolve_weights,
)
from workbench.store import lock
from workbench.store.visualization import (
    METHODS as VISUALIZATION_METHODS,
)
from workbench.store.visualization import (
    VisualizationDependencyError,
    method_help,
    visualization_key,
)
from workbench.store.workspace import Workspace

__all__ = ["BACKENDS", "VISUALIZATION_METHODS", "ImportResult", "OnnxPredictor",
           "PredictConfig", "PredictOptions", "PredictResult", "PredictionImportError",
           "PredictionsImportConfig", "Predictor", "VisualizationDependencyError",
           "VisualizeConfig", "VisualizeResult", "export_onnx", "import_predictions",
           "latest_embeddings_run", "load_batch", "load_detection_model", "load_letterboxed",
           "load_uint8", "make_predictor", "method_help", "predict", "resolve_weights",
           "to_uint8", "visualization_key", "visualize"]


@lock.writes
def predict(ws: Workspace, config: PredictConfig,
            progress: Progress | None = None) -> PredictResult:
    """Predict ``config.view`` with ``config.model``; store ``pred_<run>`` and its scores.

    ``progress`` is called with ``(images done, total)`` after each chunk.
    """
    return _predict.predict_view(ws, config, progress)


@lock.writes
def import_predictions(ws: Workspace, config: PredictionsImportConfig) -> ImportResult:
    """Validate a JSONL predictions file and write it as prediction run ``config.run``."""
    return imported.import_file(ws, config)


@lock.writes
def visualize(ws: Workspace, config: VisualizeConfig) -> VisualizeResult:
    """Compute the 2-D map of run ``config.run``'s embeddings for the App's Embeddings panel.

    Stored as brain run ``visualization_key(run)`` (replacing an earlier one); a failure
    leaves no partial brain run.
    """
    return _predict.visualize(ws, config)
