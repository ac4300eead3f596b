"""Options and result of ``workbench calibrate``: every default and rule of calibration.

Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError, UnknownNameError
from workbench.results import Result

#: The calibration maps (``workbench.core.calibration.METHODS``, repeated here so that the
#: CLI's ``--help`` does not import numpy).
METHODS = ("temperature", "platt", "isotonic")
#: The forms of ``--thresholds``.
THRESHOLD_RULES = ("f1", "precision:P", "recall:R")


@dataclass
class CalibrateConfig:
    """Options of ``workbench calibrate``.

    Attributes:
        run: the prediction run whose confidences to calibrate (``predict``, ``predictions
            import`` or ``ensemble``).
        view: its labeled images the calibration is fitted and measured on; the images are
            split at random into a fitting half and a held-out half the report is measured on.
        method: one of :data:`METHODS`: ``temperature`` (one scale of the logit), ``platt``
            (scale and shift of the logit), ``isotonic`` (a monotone step map).
        per_class: one map per class that has at least ``min_per_class`` boxes of both
            outcomes on the fitting half; other classes use the all-classes map.
        min_per_class: see ``per_class``.
        iou: a predicted box is a positive when it matches a ground-truth box of its class
            with at least this IoU (greedy, most confident first), a negative otherwise.
        bins: confidence bins of the detection ECE and the reliability diagram.
        position: also bin the D-ECE over the box centre (``position_bins`` per axis).
        position_bins: see ``position``.
        min_conf: ignore boxes below this confidence (predictions are stored down to 0.01).
        thresholds: also pick one operating threshold per class on the whole view: ``f1``
            (best F1), ``precision:P`` (the most recall at precision >= P) or ``recall:R``
            (the most precision at recall >= R); stored with the calibration and written by
            ``workbench export`` into ``deploy.yaml``.
        name: the calibration's run name (default ``cal-<run>``).
        replace: overwrite a calibration of the same name.
        seed: the random split into halves.
    """

    run: str
    view: str = "split:val"
    method: str = "temperature"
    per_class: bool = False
    min_per_class: int = 30
    iou: float = 0.5
    bins: int = 10
    position: bool = False
    position_bins: int = 3
    min_conf: float = 0.0
    thresholds: str | None = None
    name: str | None = None
    replace: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.run:
            raise ConfigError("give --run NAME: the prediction run to calibrate")
        if self.method not in METHODS:
            raise UnknownNameError("calibration method", self.method, list(METHODS))
        if not 0.0 < self.iou < 1.0:
            raise ConfigError(f"--iou must be between 0 and 1, got {self.iou}")
        if not 2 <= self.bins <= 100:
            raise ConfigError(f"--bins must be within 2..100, got {self.bins}")
        if not 1 <= self.position_bins <= 10:
            raise ConfigError(f"--position-bins must be within 1..10, got {self.position_bins}")
        if not 0.0 <= self.min_conf < 1.0:
            raise ConfigError(f"--min-conf must be within [0, 1), got {self.min_conf}")
        if self.min_per_class < 2:
            raise ConfigError(f"--min-per-class must be >= 2, got {self.min_per_class}")
        if self.thresholds is not None and not self.thresholds.strip():
            self.thresholds = None
        if self.thresholds is not None:
            from workbench.core.calibration import parse_threshold_rule

            try:
                parse_threshold_rule(self.thresholds)
            except ValueError as exc:
                raise ConfigError(f"--thresholds: {exc}") from exc

    @property
    def run_name(self) -> str:
        """The calibration's run name."""
        return self.name or f"cal-{self.run}"


@dataclass
class CalibrateResult(Result):
    """Report of ``workbench calibrate``.

    Attributes:
        name: the calibration run; ``run``: the prediction run it calibrates; ``view``.
        method, per_class: the map stored with the run.
        images: ``{"fit": n, "held_out": n}``; ``boxes``: likewise, ``positives``: likewise.
        before, after: ``{"dece", "brier"}`` on the held-out half, raw and calibrated.
        methods: every method's ``{"dece", "brier"}`` on the held-out half (same halves), so
            one run compares them.
        per_class: class -> ``{"boxes", "positives", "before": {...}, "after": {...}}``.
        thresholds: class -> operating threshold (on the raw confidence, what a device
            outputs), with ``thresholds_rule``; ``thresholds_met``: class -> whether the rule
            could be met (else the best-F1 threshold, or the export default without a true
            positive).
        plot: the reliability diagram (PNG).
        warnings: what the user should know (few boxes, a class without positives ...).
    """

    name: str
    run: str
    view: str
    method: str
    per_class: dict[str, dict[str, Any]]
    images: dict[str, int]
    boxes: dict[str, int]
    positives: dict[str, int]
    before: dict[str, float | None]
    after: dict[str, float | None]
    methods: dict[str, dict[str, float | None]]
    plot: str | None
    seconds: float
    per_class_maps: bool = False
    thresholds: dict[str, float] | None = None
    thresholds_rule: str | None = None
    thresholds_met: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
