"""Options, results and errors of ``workbench ensemble`` and ``workbench ensemble train``.

Every default and validation rule of the ensemble capability lives here; the CLI, the App and
the facade read them. The training defaults are ``workbench train``'s own
(:class:`~workbench.training.api.TrainConfig`), the member prediction backend ``predict``'s.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from workbench.ensembling.methods import METHODS
from workbench.ensembling.presets import PRESETS
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.api import BACKENDS, PredictConfig
from workbench.results import Result
from workbench.store.predictions import DISPLAY_CONF
from workbench.training.api import TrainConfig

__all__ = ["OPERATING_POINTS", "EnsembleConfig", "EnsembleError", "EnsembleResult",
           "EnsembleTrainConfig", "EnsembleTrainResult", "parse_names", "parse_weights"]

#: How ``ensemble train`` picks each member's confidence: by its preset's rule on the
#: validation images, or the preset's fixed value.
OPERATING_POINTS = ("val", "fixed")


class EnsembleError(WorkbenchError):
    """The runs cannot be fused as asked (unknown run, no common samples, a name taken);
    nothing was written."""


def parse_names(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"a, b,c"`` (or a list) -> ``["a", "b", "c"]``; empty items dropped."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    return [str(s).strip() for s in items if str(s).strip()]


def parse_weights(text: str | None) -> list[float] | None:
    """``"2,1,1"`` -> ``[2.0, 1.0, 1.0]`` (None for an empty text).

    Raises:
        ConfigError: an item is not a number.
    """
    if not text or not text.strip():
        return None
    try:
        return [float(s) for s in parse_names(text)]
    except ValueError:
        raise ConfigError(f"--weights takes numbers like 2,1,1 (one per run), got "
                          f"{text!r}") from None


def _check_fusion(method: str, iou: float, skip_conf: float) -> None:
    METHODS.entry(method)  # unknown names list the valid ones
    if not 0.0 < iou < 1.0:
        raise ConfigError(f"--iou must be between 0 and 1, got {iou}")
    if not 0.0 <= skip_conf <= 1.0:
        raise ConfigError(f"--skip-conf must be within 0..1, got {skip_conf}")


@dataclass
class EnsembleConfig:
    """Options of ``workbench ensemble``.

    Attributes:
        runs: the prediction runs to fuse, at least two (``predict``, ``predictions import``
            or other ``ensemble`` runs).
        method: how boxes are fused: a name of :data:`~workbench.ensembling.methods.METHODS`
            (``wbf``, ``nms``, ``soft-nms``).
        weights: one weight per run, in the order of ``runs`` (default: all 1); a box's score
            is its confidence times its run's weight.
        iou: boxes of one class and image overlapping by more than this are fused (``wbf``) or
            suppressed (``nms``, ``soft-nms``).
        skip_conf: member boxes below this confidence are ignored.
        view: the samples to fuse (a view spec); those missing any run's predictions are
            skipped (and counted).
        run: name of the fused prediction run (default: generated ``ensemble-...``).
        replace: overwrite a run of the same name.
        display_conf: minimum confidence of the fused boxes copied to ``show_<run>``, the
            field the App shows.
    """

    runs: list[str]
    method: str = "wbf"
    weights: list[float] | None = None
    iou: float = 0.55
    skip_conf: float = 0.0
    view: str = "all"
    run: str | None = None
    replace: bool = False
    display_conf: float = DISPLAY_CONF

    def __post_init__(self) -> None:
        self.runs = parse_names(self.runs)
        if len(self.runs) < 2:
            raise ConfigError(f"an ensemble fuses at least two prediction runs, got "
                              f"{self.runs or 'none'}; give --runs A,B[,C...] (see "
                              "`workbench runs`)")
        repeated = sorted({r for r in self.runs if self.runs.count(r) > 1})
        if repeated:
            raise ConfigError(f"--runs names {repeated} more than once; to count a run more, "
                              "give it a larger --weights entry")
        if self.weights is not None:
            self.weights = [float(w) for w in self.weights]
            if len(self.weights) != len(self.runs):
                raise ConfigError(f"got {len(self.weights)} --weights for {len(self.runs)} "
                                  f"--runs; give one weight per run, in the same order "
                                  f"(e.g. --weights {','.join(['1'] * len(self.runs))})")
            if any(w < 0 or not math.isfinite(w) for w in self.weights) \
                    or not sum(self.weights) > 0:
                raise ConfigError(f"--weights must be finite, >= 0 and not all 0, got "
                                  f"{self.weights}")
        _check_fusion(self.method, self.iou, self.skip_conf)
        if not 0.0 <= self.display_conf <= 1.0:
            raise ConfigError(f"display_conf must be in [0, 1], got {self.display_conf}")
        if self.run is not None and self.run in self.runs:
            raise ConfigError(f"the fused run cannot be named like its member {self.run!r}; "
                              "choose another --run")


@dataclass
class EnsembleResult(Result):
    """What ``workbench ensemble`` wrote.

    Attributes:
        run: the fused prediction run; ``members``: the fused runs; ``method``, ``weights``:
            how.
        view: the view fused; ``images``: its samples that have every member's predictions
            (those written); ``skipped``: its samples missing some member's.
        boxes: fused boxes written.
        field: ``pred_<run>``; ``display_field``: ``show_<run>``; ``scores_field``:
            ``scores_<run>``; ``uncertainty_fields``: the ``unc_<run>_<key>`` fields.
        member_boxes: run -> its boxes on the fused images.
        agreement: ``"k"`` -> fused boxes backed by ``k`` members.
        class_probs: whether the fused boxes carry ``class_probs`` (every member had them).
        warnings: what the user should know (skipped samples).
        seconds: wall time.
    """

    run: str
    members: list[str]
    method: str
    weights: list[float]
    view: str
    images: int
    skipped: int
    boxes: int
    field: str
    display_field: str
    scores_field: str
    uncertainty_fields: list[str] = dataclasses.field(default_factory=list)
    member_boxes: dict[str, int] = dataclasses.field(default_factory=dict)
    agreement: dict[str, int] = dataclasses.field(default_factory=dict)
    class_probs: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


@dataclass
class EnsembleTrainConfig:
    """Options of ``workbench ensemble train``: one model per preset, from the same data.

    Attributes:
        presets: member presets, one model each: names of
            :data:`~workbench.ensembling.presets.PRESETS` (``recall``, ``balanced``,
            ``precision``).
        model: model YAML / name / local ``.pt`` every member starts from.
        view: training images (labeled ones of this view); ``val``: validation images.
        imgsz: input size in pixels; ``epochs``: maximum epochs; ``patience``: early stopping.
        batch: batch size; ``device``: ``cpu`` or a CUDA index such as ``0``.
        seed: training seed of the first member (the next ones use seed + 1, + 2 ...);
            ``workers``: dataloader worker processes.
        name: prefix of the run names: members ``<name>-<preset>``, their predictions
            ``<name>-<preset>-pred``, the fused run ``<name>`` (default: generated).
        predict: a view each member predicts (at its preset's confidence) and whose
            predictions are fused into run ``<name>`` (None: train only).
        method: the fusion method (``wbf``, ``nms``, ``soft-nms``); ``iou``: its IoU
            threshold; ``skip_conf``: member boxes below this confidence are ignored.
        backend: the prediction backend of the members (``predict --backend``).
        operating_points: ``val``: each member first predicts ``val`` and cuts its boxes
            where its preset's rule is met there (recall / F1 / precision); ``fixed``: at the
            preset's fixed confidence. ``val`` falls back to ``fixed`` (with a warning) when
            ``val`` has no labeled images.
    """

    presets: list[str] = dataclasses.field(default_factory=lambda: list(PRESETS.names()))
    model: str = TrainConfig.model
    view: str = TrainConfig.view
    val: str = TrainConfig.val
    imgsz: int = TrainConfig.imgsz
    epochs: int = TrainConfig.epochs
    patience: int = TrainConfig.patience
    batch: int = TrainConfig.batch
    device: str = TrainConfig.device
    seed: int = TrainConfig.seed
    workers: int = TrainConfig.workers
    name: str | None = None
    predict: str | None = None
    method: str = "wbf"
    iou: float = 0.55
    skip_conf: float = 0.0
    backend: str = PredictConfig.backend
    operating_points: str = "val"

    def __post_init__(self) -> None:
        if self.operating_points not in OPERATING_POINTS:
            raise ConfigError(f"--operating-points must be one of {', '.join(OPERATING_POINTS)}, "
                              f"not {self.operating_points!r}")
        self.presets = parse_names(self.presets)
        if not self.presets:
            raise ConfigError(f"give --preset NAME[,NAME...]: {', '.join(PRESETS.names())}")
        for name in self.presets:
            PRESETS.entry(name)  # unknown names list the valid ones
        repeated = sorted({p for p in self.presets if self.presets.count(p) > 1})
        if repeated:
            raise ConfigError(f"--preset names {repeated} more than once; each member needs "
                              "its own preset")
        if self.predict is not None and len(self.presets) < 2:
            raise ConfigError("--predict fuses the members' predictions: give at least two "
                              "--preset names (e.g. --preset recall,precision)")
        _check_fusion(self.method, self.iou, self.skip_conf)
        BACKENDS.entry(self.backend)
        self.member_train_config(self.presets[0])  # training's own checks, before any work

    def member_train_config(self, preset: str) -> TrainConfig:
        """The ``workbench train`` options of the member of ``preset`` (run name left out)."""
        spec = PRESETS.get(preset)
        return TrainConfig(view=self.view, val=self.val, model=self.model, imgsz=self.imgsz,
                           epochs=self.epochs, patience=self.patience, batch=self.batch,
                           device=self.device, seed=self.seed + self.presets.index(preset),
                           workers=self.workers, augment=spec.augment,
                           overrides=dict(spec.overrides))


@dataclass
class EnsembleTrainResult(Result):
    """What ``workbench ensemble train`` trained, predicted and fused.

    Attributes:
        name: the run-name prefix.
        members: one dict per member: ``preset``, ``augment``, ``conf`` (the confidence it
            predicted with), ``rule`` (the rule that chose it, None when fixed), ``rule_met``,
            ``val_run`` (its prediction run on the validation images, None when fixed),
            ``train_run``, ``weights``, ``map50``, ``map50_95``, ``prediction_run`` (None
            without ``predict``), ``prediction_boxes``.
        run: the fused prediction run (None without ``predict``).
        fused: the fusion's result (:class:`EnsembleResult` as a dict), or None.
        warnings: what fell back (a member's rule unmet, no labeled validation images).
        seconds: wall time.
    """

    name: str
    members: list[dict[str, Any]]
    run: str | None = None
    fused: dict[str, Any] | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
