"""The mining capability's App operator: ``wb_mine``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.mining.api import CHOOSERS, MineConfig, mine
from workbench.ui.api import Choices, OperatorSpec, Report

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


def _mine(ws: Workspace, cfg: MineConfig, report: Report) -> Any:
    return mine(ws, cfg, lambda stage, done, total: report(done / max(total, 1), stage))


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_mine``."""
    ops.register("wb_mine", OperatorSpec(
        "wb_mine", "Workbench: mine hard negatives",
        "A run's confident false positives, class confusions and misses on a view, saved as "
        "views fp_/confusions_/misses_<run> (`workbench mine`); optionally queue look-alike "
        "pool images as a round, label the known negatives the model fires on (undoable), "
        "and iterate with retraining. Long: schedule it.",
        MineConfig, _mine,
        choices={"run": Choices(source="training_runs"), "view": _VIEWS, "negatives": _VIEWS,
                 "embeddings": Choices(source="embedding_fields"),
                 "choose": Choices(static=CHOOSERS),
                 "critical": Choices(source="classes")},
        long=True, opens=lambda r: f"round:{r['similar']['round']}"
        if (r.get("similar") or {}).get("round") else None))
