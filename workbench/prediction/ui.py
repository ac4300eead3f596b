"""The prediction capability's App operator: ``wb_predict`` (``workbench predict``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.prediction.api import (
    BACKENDS,
    VISUALIZATION_METHODS,
    PredictConfig,
    PredictionsImportConfig,
    VisualizeConfig,
    import_predictions,
    predict,
    visualize,
)
from workbench.prediction.engines import ENGINES
from workbench.prediction.tta import FUSION_METHODS, TTA_PASSES
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace


def _predict(ws: Workspace, cfg: PredictConfig, report: Report) -> Any:
    return predict(ws, cfg, progress=lambda done, total:
                   report(done / max(total, 1), f"{done}/{total} images"))


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_predict``, ``wb_import_predictions`` and ``wb_visualize``."""
    ops.register("wb_predict", OperatorSpec(
        "wb_predict", "Workbench: predict",
        "Run a model (a training run or a local .pt / .onnx) on a view and store its boxes, "
        "per-image uncertainty scores and optionally embeddings (`workbench predict`). TTA "
        "adds passes (flips, rotations for data without a canonical up, scales) and can fuse "
        "them into the stored boxes. Long: schedule it and follow its progress.",
        PredictConfig, _predict,
        choices={"model": Choices(source="training_runs", other=True),
                 "view": Choices(source="views", other=True),
                 "backend": Choices(static=tuple(BACKENDS.names())),
                 "engine": Choices(static=tuple(ENGINES.names())),
                 "run": Choices(source="prediction_runs", other=True),
                 "tta_passes": Choices(static=tuple(TTA_PASSES.names())),
                 "fuse_method": Choices(static=tuple(FUSION_METHODS.names())),
                 "calibration": Choices(static=("auto", "none"), other=True)},
        long=True))
    ops.register("wb_import_predictions", OperatorSpec(
        "wb_import_predictions", "Workbench: import predictions",
        "Validate a JSONL file of another model's boxes and store it as a prediction run, "
        "scored for selection (`workbench predictions import`).",
        PredictionsImportConfig, plain(import_predictions),
        choices={"run": Choices(source="prediction_runs", other=True)}))
    ops.register("wb_visualize", OperatorSpec(
        "wb_visualize", "Workbench: embeddings map",
        "Compute the 2-D map of a prediction run's image embeddings for the Embeddings panel "
        "(PCA, t-SNE or UMAP; `workbench visualize`); color it by split, status or round and "
        "lasso images to queue them.",
        VisualizeConfig,
        plain(visualize, lambda c: f"{c.method} map of {c.run or 'the latest embeddings'}"),
        choices={"run": Choices(source="embedding_runs"),
                 "method": Choices(static=tuple(VISUALIZATION_METHODS.names()))},
        long=True))
