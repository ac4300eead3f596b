"""The mining capability's public surface: ``mine``, its config and result.

Light at import; the verb imports the store's FiftyOne parts, Ultralytics and torch when it
runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.mining.config import CHOOSERS, MineConfig, MineResult
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["CHOOSERS", "MineConfig", "MineResult", "mine"]


@lock.writes(recover=False)
def mine(ws: Workspace, config: MineConfig,
         progress: Callable[[str, int, int], None] | None = None) -> MineResult:
    """Mine a run's confident false positives, confusions and misses on a view.

    With ``similar``, queue the pool images most like the false positives as a round; with
    ``negatives``, label the known-negative images the model fires on (undoable); with
    ``iterations``, repeat mine -> add negatives -> retrain -> evaluate.

    Raises:
        WorkbenchError: unknown or unfinished run, invalid view, empty negatives view,
            embeddings no model of the workspace wrote, a round that exists.
    """
    from workbench.mining.iterate import run_mine

    return run_mine(ws, config, progress)
