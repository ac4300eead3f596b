"""The loop capability's public surface: simulated rounds, real rounds, their status.

One function per verb, each taking the workspace and its config and returning a result whose
``to_dict()`` is the command's JSON. The loop reaches other capabilities only through their
``api`` modules; the implementation is imported when a verb runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.loop.config import (
    NextConfig,
    NextResult,
    SimConfig,
    SimResult,
    StatusConfig,
    StatusResult,
    next_backends,
    parse_train_args,
    saving_text,
    simulation_strategies,
)
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: ``(done, total, description)`` progress of a simulation.
SimProgress = Callable[[int, int, str], None]
#: ``(epoch, epochs, metrics)`` after each training epoch.
EpochCallback = Callable[[int, int, dict[str, float]], None]


@lock.writes
def simulate(ws: Workspace, cfg: SimConfig, out: Path,
             progress: SimProgress | None = None) -> SimResult:
    """``loop --simulate``: run (or continue) simulated rounds on a fully labeled workspace,
    writing ``curves.json``, the plot and ``summary.json`` under ``out``.

    Raises:
        ConfigError: ``out`` holds a simulation with other settings, or the pool is too small.
    """
    from workbench.loop import simulation

    return simulation.simulate(ws, cfg, out, progress)


@lock.writes
def next_round(ws: Workspace, cfg: NextConfig, on_epoch: EpochCallback | None = None
               ) -> NextResult:
    """``loop next``: train (or reuse), predict the pool, select, send out."""
    from workbench.loop import rounds

    return rounds.next_round(ws, cfg, on_epoch)


def status(ws: Workspace, cfg: StatusConfig) -> StatusResult:
    """``loop status``: rounds with label counts and their model's mAP; training runs."""
    from workbench.loop import rounds

    return rounds.loop_status(ws, cfg.plot)


__all__ = ["NextConfig", "NextResult", "SimConfig", "SimResult", "StatusConfig",
           "StatusResult", "next_backends", "next_round", "parse_train_args", "saving_text",
           "simulate",
           "simulation_strategies", "status"]
