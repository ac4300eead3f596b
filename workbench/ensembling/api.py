"""The ensemble capability's public surface: fuse stored prediction runs (``ensemble``),
train one member per preset and fuse their predictions (``train_ensemble``), the fusion
methods and member presets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.ensembling.config import (
    OPERATING_POINTS,
    EnsembleConfig,
    EnsembleError,
    EnsembleResult,
    EnsembleTrainConfig,
    EnsembleTrainResult,
    parse_names,
    parse_weights,
)
from workbench.ensembling.fuse import fuse_runs
from workbench.ensembling.methods import METHODS, FusionMethod, method_help
from workbench.ensembling.presets import PRESETS, MemberPreset, preset_help
from workbench.ensembling.train import Progress, member_names, train_members
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["METHODS", "OPERATING_POINTS", "PRESETS", "EnsembleConfig", "EnsembleError",
           "EnsembleResult", "EnsembleTrainConfig", "EnsembleTrainResult", "FusionMethod",
           "MemberPreset", "Progress", "ensemble", "member_names", "method_help", "parse_names",
           "parse_weights", "preset_help", "train_ensemble"]


@lock.writes
def ensemble(ws: Workspace, config: EnsembleConfig) -> EnsembleResult:
    """Fuse the prediction runs ``config.runs`` over ``config.view`` into run ``config.run``
    (``pred_<run>`` with per-box ``agreement``, ``show_<run>``, scores), recorded as an
    ``ensemble`` run that ``select`` and ``evaluate --predictions`` take like any prediction run.

    Raises:
        EnsembleError: an unknown or non-prediction member, no sample with every member's
            predictions, an existing run (without ``replace``); nothing is written then.
    """
    return fuse_runs(ws, config)


@lock.writes(recover=False)
def train_ensemble(ws: Workspace, config: EnsembleTrainConfig,
                   progress: Progress | None = None) -> EnsembleTrainResult:
    """Train one model per preset of ``config.presets`` on the same data; with
    ``config.predict``, each predicts that view at its preset's confidence and the members
    are fused into run ``config.name``.

    ``progress(stage, done, total)`` follows the members' epochs and predictions.

    Raises:
        EnsembleError: a run name taken or an empty ``predict`` view (before any training);
            WorkbenchError: what training, prediction or fusion refuse.
    """
    return train_members(ws, config, progress)
