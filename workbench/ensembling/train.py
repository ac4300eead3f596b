"""``workbench ensemble train``: one model per member preset from the same data, then fusion.

Each preset of :data:`~workbench.ensembling.presets.PRESETS` trains one member through
``workbench train`` (:func:`workbench.training.api.train`) with its augmentation and extra
Ultralytics arguments; with ``predict``, every member first predicts the validation images
and takes the confidence where its preset's rule (recall / F1 / precision) is met there
(``operating_points="val"``; ``"fixed"`` takes the preset's fixed confidence), then predicts
that view at it through
``workbench predict`` and the members' runs are fused
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
from workbench.ensembling.presets import PRESETS, MemberPreset
from workbench.errors import WorkbenchError
from workbench.prediction.api import PredictConfig, predict
from workbench.store import predictions, runs
from workbench.training.api import train

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["Progress", "member_names", "train_members"]

#: ``progress(stage, done, total)``: what a long ensemble run is doing.
Progress = Callable[[str, int, int], None]


def member_names(prefix: str, preset: str) -> tuple[str, str, str]:
    """The training, prediction and validation-prediction run names of a member:
    ``<prefix>-<preset>``, ``<prefix>-<preset>-pred`` and ``<prefix>-<preset>-val``."""
    return f"{prefix}-{preset}", f"{prefix}-{preset}-pred", f"{prefix}-{preset}-val"


def _check_names(ws: Workspace, config: EnsembleTrainConfig, prefix: str) -> None:
    """Refuse before any training: a run name taken, an invalid or empty ``predict`` view."""
    per_member = 1 if config.predict is None else 3 if config.operating_points == "val" else 2
    names = [n for p in config.presets for n in member_names(prefix, p)[:per_member]]
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


def _cut(spec: MemberPreset, threshold: float, met: bool) -> float:
    """The member's confidence from its rule's threshold: the threshold where the rule is met;
    where it is not, a recall rule keeps the lower of it and the fixed value (recall first),
    the other rules keep it (the best F1 the member reaches)."""
    if met or not spec.rule.startswith("recall"):
        return threshold
    return min(threshold, spec.conf)


def _operating_point(ws: Workspace, config: EnsembleTrainConfig, member: dict[str, Any],
                     val_run: str, report: Progress, warnings: list[str]) -> None:
    """Predict ``config.val`` with the member into ``val_run`` and set ``member["conf"]``
    where its preset's rule is met there (the fixed value, with a warning, without labels)."""
    from workbench.calibration.api import operating_point

    spec = PRESETS.get(member["preset"])
    predict(ws, PredictConfig(model=member["train_run"], run=val_run, view=config.val,
                              backend=config.backend, device=config.device),
            progress=_images(report, f"validating {member['preset']}"))
    member["val_run"] = val_run
    try:
        threshold, met = operating_point(ws, val_run, config.val, spec.rule)
    except WorkbenchError as exc:
        warnings.append(f"{member['preset']}: no operating point from {config.val!r} ({exc}); "
                        f"kept the fixed confidence {spec.conf:g}")
        return
    member["conf"], member["rule"], member["rule_met"] = _cut(spec, threshold, met), spec.rule, met
    if not met:
        warnings.append(f"{member['preset']}: {spec.rule} is not reached on {config.val!r}; "
                        f"cut at {member['conf']:.3g} instead")


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
        train_run = member_names(prefix, preset)[0]
        train_config = config.member_train_config(preset)
        train_config.run = train_run
        stage = f"training {preset} ({i + 1}/{n})"
        report(stage, 0, config.epochs)
        trained = train(ws, train_config, on_epoch=_epochs(report, stage))
        members.append({"preset": preset, "augment": spec.augment, "conf": spec.conf,
                        "rule": None, "rule_met": None, "val_run": None,
                        "train_run": trained.run, "weights": trained.weights,
                        "map50": trained.map50, "map50_95": trained.map50_95,
                        "prediction_run": None, "prediction_boxes": None})
    result = EnsembleTrainResult(name=prefix, members=members)
    if config.predict is not None:
        for member in members:
            _, pred_run, val_run = member_names(prefix, member["preset"])
            if config.operating_points == "val":
                _operating_point(ws, config, member, val_run, report, result.warnings)
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

