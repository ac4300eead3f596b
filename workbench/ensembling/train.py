"""``workbench ensemble train``: one model per member preset from the same data, then fusion.

Each preset of :data:`~workbench.ensembling.presets.PRESETS` trains one member through
``workbench train`` (:func:`workbench.training.api.train`) with its augmentation and extra
Ultralytics arguments; with ``predict``, every member predicts that view through
``workbench predict`` at its preset's confidence and the members' runs are fused
(:func:`~workbench.ensembling.fuse.fuse_runs`) into the run named by the prefix. Every name is
checked before the first member trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.ensembling.config import (
    EnsembleConfig,
    EnsembleError,
    EnsembleTrainConfig,
    EnsembleTrainResult,
)
from workbench.ensembling.fuse import fuse_runs
from workbench.ensembling.presets import PRESETS
from workbench.prediction.api import PredictConfig, predict
from workbench.store import predictions, runs
from workbench.training.api import train

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["Progress", "member_names", "train_members"]

#: ``progress(stage, done, total)``: what a long ensemble run is doing.
Progress = Callable[[str, int, int], None]


def member_names(prefix: str, preset: str) -> tuple[str, str]:
    """The training and prediction run names of a member: ``<prefix>-<preset>`` and
    ``<prefix>-<preset>-pred``."""
    return f"{prefix}-{preset}", f"{prefix}-{preset}-pred"


def _check_names(ws: Workspace, config: EnsembleTrainConfig, prefix: str) -> None:
    """Refuse before any training: a run name taken, an invalid or empty ``predict`` view."""
    names = [n for p in config.presets
             for n in member_names(prefix, p)[:2 if config.predict else 1]]
    names += [prefix] if config.predict else []
    taken = [n for n in names if runs.get_run(ws, n) is not None]
    if taken:
        raise EnsembleError(f"runs named {taken} exist already; choose another --name")
    if config.predict is not None and not predictions.view_files(ws, config.predict)[0]:
        raise EnsembleError(f"the view {config.predict!r} has no samples to predict; pick "
                            "another --predict view")


def _quiet(stage: str, done: int, total: int) -> None:
    """A :data:`Progress` that drops the progress."""


def _epochs(report: Progress, stage: str) -> Callable[[int, int, dict[str, float]], None]:
    """Training's ``on_epoch(epoch, total, metrics)`` as ``report(stage, epoch, total)``."""
    def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
        report(stage, epoch, total)

    return on_epoch


def _images(report: Progress, stage: str) -> Callable[[int, int], None]:
    """Prediction's ``progress(done, total)`` as ``report(stage, done, total)``."""
    def on_images(done: int, total: int) -> None:
        report(stage, done, total)

    return on_images


def train_members(ws: Workspace, config: EnsembleTrainConfig,
                  progress: Progress | None = None) -> EnsembleTrainResult:
    """Train one member per preset; with ``config.predict``, predict and fuse them.

    Args:
        ws: the workspace.
        config: the options.
        progress: called as ``progress(stage, done, total)``: epochs of each member, images
            of each member's prediction.

    Raises:
        EnsembleError: a run name taken, an empty ``predict`` view (before any training);
            WorkbenchError: what training, prediction or fusion refuse.
    """
    started = time.perf_counter()
    prefix = config.name or runs.new_run_id("ensemble")
    _check_names(ws, config, prefix)
    report: Progress = progress or _quiet
    n = len(config.presets)
    members: list[dict[str, Any]] = []
    for i, preset in enumerate(config.presets):
        spec = PRESETS.get(preset)
        train_run, _ = member_names(prefix, preset)
        train_config = config.member_train_config(preset)
        train_config.run = train_run
        stage = f"training {preset} ({i + 1}/{n})"
        report(stage, 0, config.epochs)
        trained = train(ws, train_config, on_epoch=_epochs(report, stage))
        members.append({"preset": preset, "augment": spec.augment, "conf": spec.conf,
                        "train_run": trained.run, "weights": trained.weights,
                        "map50": trained.map50, "map50_95": trained.map50_95,
                        "prediction_run": None, "prediction_boxes": None})
    result = EnsembleTrainResult(name=prefix, members=members)
    if config.predict is not None:
        for member in members:
            _, pred_run = member_names(prefix, member["preset"])
            stage = f"predicting {member['preset']}"
            done = predict(ws, PredictConfig(
                model=member["train_run"], run=pred_run, view=config.predict,
                backend=config.backend, conf=member["conf"], device=config.device),
                progress=_images(report, stage))
            member["prediction_run"], member["prediction_boxes"] = done.run, done.boxes
        report("fusing", 0, 1)
        fused = fuse_runs(ws, EnsembleConfig(
            runs=[m["prediction_run"] for m in members], method=config.method, iou=config.iou,
            skip_conf=config.skip_conf, view=config.predict, run=prefix))
        report("fusing", 1, 1)
        result.run, result.fused = fused.run, fused.to_dict()
    result.seconds = round(time.perf_counter() - started, 2)
    return result

