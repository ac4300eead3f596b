"""The ensemble capability's App operator: ``wb_ensemble`` (``workbench ensemble --runs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.ensembling.api import METHODS, EnsembleConfig, ensemble
from workbench.ui.api import Choices, OperatorSpec, plain

if TYPE_CHECKING:
    from workbench.registry import Registry


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_ensemble``."""
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
