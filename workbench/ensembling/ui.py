"""The ensemble capability's App operators: ``wb_ensemble`` (``workbench ensemble --runs``) and
``wb_ensemble_train`` (``workbench ensemble train``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.ensembling.api import (
    METHODS,
    OPERATING_POINTS,
    PRESETS,
    EnsembleConfig,
    EnsembleTrainConfig,
    ensemble,
    train_ensemble,
)
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


def _train(ws: Workspace, cfg: EnsembleTrainConfig, report: Report) -> Any:
    """``train_ensemble`` with its stages as the operator's progress (per stage, 0..1)."""
    def progress(stage: str, done: int, total: int) -> None:
        report(done / max(total, 1), f"{stage}: {done}/{total}")

    return train_ensemble(ws, cfg, progress=progress)


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_ensemble`` and ``wb_ensemble_train``."""
    ops.register("wb_ensemble", OperatorSpec(
        "wb_ensemble", "Workbench: fuse prediction runs",
        "Fuse two or more stored prediction runs (predict, imported or other ensembles) into a "
        "new prediction run by weighted boxes fusion or (soft-)NMS, each box with its agreement "
        "(how many runs found it); select and evaluate take it like any prediction run "
        "(`workbench ensemble --runs A,B`).",
        EnsembleConfig,
        plain(ensemble, lambda c: f"fusing {', '.join(c.runs)} ({c.method})"),
        choices={"runs": Choices(source="prediction_runs"),
                 "method": Choices(static=tuple(METHODS.names())),
                 "view": Choices(source="views", other=True),
                 "run": Choices(source="prediction_runs", other=True)}))
    ops.register("wb_ensemble_train", OperatorSpec(
        "wb_ensemble_train", "Workbench: train an ensemble",
        "Train one detector per preset (recall, balanced, precision: different augmentation and "
        "operating points) on the same data; with a predict view, each member predicts it at "
        "its operating point and the members are fused (`workbench ensemble train`). Long: "
        "schedule it and follow its progress.",
        EnsembleTrainConfig, _train,
        choices={"presets": Choices(static=tuple(PRESETS.names())),
                 "method": Choices(static=tuple(METHODS.names())),
                 "operating_points": Choices(static=OPERATING_POINTS),
                 "view": _VIEWS, "val": _VIEWS, "predict": _VIEWS},
        long=True))
