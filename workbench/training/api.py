"""The training capability's public surface: train, size sweeps, evaluate, model resolution.

Light at import (configs and results); the verbs import Ultralytics, torch and the store
when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.store import lock
from workbench.training.config import (
    EvalConfig,
    EvalResult,
    SweepConfig,
    SweepResult,
    TrainConfig,
    TrainResult,
    parse_sizes,
)
from workbench.training.train_args import parse_train_args
from workbench.training.weights import offline_environment, resolve_model

if TYPE_CHECKING:
    from workbench.core.types import Predictions
    from workbench.store.workspace import Workspace

__all__ = ["EpochCallback", "EvalConfig", "EvalResult", "SweepConfig", "SweepResult",
           "TrainConfig", "TrainResult", "evaluate", "evaluate_predictions", "label_hash",
           "last_checkpoint", "offline_environment", "parse_sizes", "parse_train_args",
           "predict_files", "resolve_model", "run_weights", "sweep", "train"]

#: ``on_epoch(epoch, total, metrics)``: called after each finished epoch.
EpochCallback = Callable[[int, int, dict[str, float]], None]


@lock.writes(recover=False)
def train(ws: Workspace, config: TrainConfig,
          on_epoch: EpochCallback | None = None) -> TrainResult:
    """Train on ``config.view`` (or resume ``config.run``) and record the run.

    Raises:
        WorkbenchError: empty views, missing classes, bad model spec, a run that exists or
            cannot be resumed, out of memory.
    """
    from workbench.training.runner import train as run_train

    return run_train(ws, config, on_epoch=on_epoch)


@lock.writes(recover=False)
def sweep(ws: Workspace, config: SweepConfig,
          on_epoch: EpochCallback | None = None) -> SweepResult:
    """Train one model per input size and write the trade-off report."""
    from workbench.training.sweep import run_sweep

    return run_sweep(ws, config, on_epoch=on_epoch)


@lock.writes
def evaluate(ws: Workspace, config: EvalConfig) -> EvalResult:
    """Predict a split with a run's weights (or a ``.pt``), evaluate COCO-style, store TP/FP/FN
    (with ``config.predictions``: evaluate a stored prediction run, see
    :func:`evaluate_predictions`).

    Raises:
        WorkbenchError: unknown or unfinished run, empty split, foreign model classes.
    """
    from workbench.training.evaluation import run_evaluation

    return run_evaluation(ws, config)


@lock.writes
def evaluate_predictions(ws: Workspace, run: str, **options: Any) -> EvalResult:
    """Evaluate the boxes stored by prediction run ``run`` (``evaluate --predictions RUN``);
    an ensemble or a TTA-fused run also gets its members side by side (``result.members``).

    Args:
        ws: the workspace.
        run: a ``predict``, ``predictions import`` or ``ensemble`` run.
        options: the other :class:`EvalConfig` fields (``view``, ``split``, ``iou`` ...).

    Raises:
        WorkbenchError: no such prediction run, no labeled image or no box of it in the view.
    """
    from workbench.training.stored_eval import evaluate_stored

    return evaluate_stored(ws, EvalConfig(predictions=run, **options))


def predict_files(weights: str, paths: list[str], imgsz: int, classes: list[str],
                  device: str = "cpu", conf: float = 0.001, max_det: int = 300) -> Predictions:
    """Detections of a local ``.pt`` on image files, class ids in ``classes`` order (what
    ``evaluate`` runs; nothing is stored).

    Raises:
        WorkbenchError: the model predicts classes outside ``classes``.
    """
    from workbench.training.evaluation import predict_with_ultralytics

    return predict_with_ultralytics(weights, paths, imgsz, classes, device, conf=conf,
                                    max_det=max_det)


def run_weights(ws: Workspace, run: str) -> tuple[str, int]:
    """A finished training run's best weights and its input size.

    Raises:
        WorkbenchError: no such run, or it has no finished weights.
    """
    from workbench.training.evaluation import _weights_of

    _, weights, imgsz = _weights_of(ws, run, None)
    return weights, imgsz


def last_checkpoint(ws: Workspace, run: str) -> Path:
    """Where a training run keeps its latest checkpoint (what ``--resume`` continues from)."""
    from workbench.training.runner import last_checkpoint as checkpoint

    return checkpoint(ws, run)


def label_hash(ws: Workspace, train_view: str, val_view: str, classes: list[str]) -> str:
    """The hash that keys the YOLO export of two views (what a training run records)."""
    from workbench.training.dataset import label_hash as views_hash

    return views_hash(ws, train_view, val_view, classes)
