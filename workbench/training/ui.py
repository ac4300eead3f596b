"""The training capability's App operators: ``wb_train`` and ``wb_evaluate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.training.api import EvalConfig, TrainConfig, evaluate, train
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


def _train(ws: Workspace, cfg: TrainConfig, report: Report) -> Any:
    def on_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in list(metrics.items())[:3])
        report(epoch / max(epochs, 1), f"epoch {epoch}/{epochs} {shown}")

    return train(ws, cfg, on_epoch=on_epoch)


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_train`` and ``wb_evaluate``."""
    ops.register("wb_train", OperatorSpec(
        "wb_train", "Workbench: train a detector",
        "Train a YOLO detector on the labeled images of a view, validated on another "
        "(`workbench train`). Long: schedule it and follow its progress.",
        TrainConfig, _train, choices={"view": _VIEWS, "val": _VIEWS,
                                      "run": Choices(source="training_runs", other=True)},
        hidden=("overrides",), long=True))
    ops.register("wb_evaluate", OperatorSpec(
        "wb_evaluate", "Workbench: evaluate a training run or stored predictions",
        "mAP, per-class AP, precision/recall and the per-box TP/FP/FN verdicts of a run on a "
        "split (`workbench evaluate`), or of a stored prediction run (`--predictions`: an "
        "ensemble beside its members); the false positives and misses become saved views.",
        EvalConfig,
        plain(evaluate, lambda c: f"evaluating {c.predictions or c.run or c.model} on "
                                  f"{c.view or c.split}"),
        choices={"run": Choices(source="training_runs", other=True),
                 "predictions": Choices(source="prediction_runs"),
                 "view": _VIEWS},
        long=True))
