"""Options and results of ``workbench train`` (and size sweeps); ``evaluate``'s are in
:mod:`workbench.training.eval_config` (re-exported here).

Every default and validation rule of the training capability lives here; the CLI, the App and
the loop read them (``default(TrainConfig, "epochs")``). Light at import: the standard library
only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError
from workbench.results import Result


@dataclass
class TrainConfig:
    """Options of ``workbench train``.

    Attributes:
        view: training images (labeled ones of this view).
        val: validation images.
        model: model YAML / name / local ``.pt`` (see :func:`resolve_model`).
        imgsz: input size in pixels; ``epochs``: maximum epochs; ``patience``: early stopping.
        batch: batch size; ``device``: ``cpu`` or a CUDA index such as ``0``.
        run: run name (default: generated); ``resume``: continue that run's last checkpoint.
        seed: training seed; ``workers``: dataloader worker processes.
        allow_missing_classes: train even if some classes have no box in the training view.
        augment: augmentation preset: ``none``, ``default`` (Ultralytics' defaults) or
            ``strong`` (see :data:`~workbench.training.augment.AUGMENT_PRESETS`).
        multi_scale: vary the input size by +/-50 % from batch to batch while training.
        optimizer: ``auto`` (Ultralytics picks the optimizer and learning rate), ``SGD``,
            ``MuSGD``, ``Adam``, ``Adamax``, ``AdamW``, ``NAdam``, ``RAdam`` or ``RMSProp``.
        lr0: initial learning rate (needs an --optimizer other than ``auto``); None: the
            optimizer's default.
        freeze: freeze the first N layers of the model (fine-tuning a ``.pt``); None: none.
        classes: train on these classes only (names; boxes of other classes are ignored).
        cache: keep the decoded training images in RAM (faster epochs, more memory).
        critical: classes that matter most; with ``oversample`` their images are repeated.
        oversample: how many times in total each training image holding a box of a critical
            class appears in an epoch (repeat-factor sampling); 1: no repeats.
        overrides: further Ultralytics training arguments (e.g. ``{"mosaic": 0.0}``); they win
            over the preset and the options above.
    """

    view: str = "split:train"
    val: str = "split:val"
    model: str = "yolov8n.yaml"
    imgsz: int = 320
    epochs: int = 50
    patience: int = 10
    batch: int = 16
    device: str = "cpu"
    run: str | None = None
    resume: bool = False
    seed: int = 0
    workers: int = 2
    allow_missing_classes: bool = False
    augment: str = "default"
    multi_scale: bool = False
    optimizer: str = "auto"
    lr0: float | None = None
    freeze: int | None = None
    classes: list[str] | None = None
    cache: bool = False
    critical: list[str] | None = None
    oversample: int = 1
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("imgsz", "epochs", "batch"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.imgsz % 32:
            raise ConfigError(f"--imgsz must be a multiple of 32 (the model stride), got "
                              f"{self.imgsz}")
        if self.patience < 0:
            raise ConfigError(f"--patience must be >= 0, got {self.patience}")
        self._check_controls()

    def _check_controls(self) -> None:
        from workbench.training.augment import AUGMENT_PRESETS

        if self.augment not in AUGMENT_PRESETS:
            raise ConfigError(f"--augment {self.augment!r} is not a preset; choose one of "
                              f"{AUGMENT_PRESETS.choices()}")
        if self.optimizer.lower() not in {o.lower() for o in OPTIMIZERS}:
            raise ConfigError(f"--optimizer {self.optimizer!r} is unknown; choose one of "
                              f"{', '.join(OPTIMIZERS)}")
        if self.lr0 is not None:
            if not 0.0 < self.lr0 <= 1.0:
                raise ConfigError(f"--lr0 must be in (0, 1], got {self.lr0}")
            if self.optimizer.lower() == "auto":
                raise ConfigError("--lr0 is ignored by --optimizer auto (it picks its own "
                                  "learning rate); also pass an optimizer, e.g. "
                                  "--optimizer SGD --lr0 0.01")
        if self.freeze is not None and self.freeze < 0:
            raise ConfigError(f"--freeze must be >= 0 layers, got {self.freeze}")
        self.classes = _names("classes", self.classes)
        self.critical = _names("critical", self.critical)
        if self.oversample < 1:
            raise ConfigError(f"--oversample must be >= 1 (1: no repeats), got "
                              f"{self.oversample}")
        if self.oversample > 1 and not self.critical:
            raise ConfigError(f"--oversample {self.oversample} repeats the images of the "
                              "critical classes: also pass --critical CLASS[,CLASS]")
        if self.classes and self.critical:
            outside = [c for c in self.critical if c not in self.classes]
            if outside:
                raise ConfigError(f"critical classes {outside} are not among --classes "
                                  f"{self.classes}; add them or drop them from --critical")


#: Ultralytics' optimizers (``optimizer=`` of ``ultralytics/cfg/default.yaml``); any case.
OPTIMIZERS = ("auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp")


def _names(option: str, names: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """A class-name list option, stripped; None when empty.

    Raises:
        ConfigError: a name is repeated.
    """
    if names is None:
        return None
    if isinstance(names, str):
        names = names.split(",")
    cleaned = [str(n).strip() for n in names if str(n).strip()]
    repeated = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if repeated:
        raise ConfigError(f"--{option} names {repeated} more than once")
    return cleaned or None


def parse_names(text: str | None) -> list[str] | None:
    """``"lionfish, urchin"`` -> ``["lionfish", "urchin"]`` (None for an empty text)."""
    return _names("classes", text.split(",")) if text else None


@dataclass
class TrainResult(Result):
    """What a training run produced.

    Attributes:
        run: the run's name; ``weights``: its best checkpoint; ``last``: its last one.
        map50, map50_95: validation mAP of the best checkpoint.
        epochs: epochs trained; ``seconds``: wall time; ``run_dir``: Ultralytics' folder.
        plots: training curves; ``dataset``: the exported YOLO folder.
        dataset_reused: the folder existed for exactly these labels; ``label_hash``: its key.
        train_images, val_images: labeled images of the training and validation views.
        train_images_repeated: training images repeated for the critical classes.
        train_images_after_repeats: images in the exported training split (with repeats).
    """

    run: str
    weights: str
    last: str
    map50: float
    map50_95: float
    epochs: int
    seconds: float
    run_dir: str
    plots: list[str] = field(default_factory=list)
    dataset: str = ""
    dataset_reused: bool = False
    label_hash: str = ""
    train_images: int = 0
    val_images: int = 0
    train_images_repeated: int = 0
    train_images_after_repeats: int = 0


def _valid_sizes(sizes: list[int]) -> bool:
    return bool(sizes) and all(s > 0 and s % 32 == 0 for s in sizes) \
        and len(set(sizes)) == len(sizes)


def parse_sizes(text: str) -> list[int]:
    """``"224,320,416"`` -> ``[224, 320, 416]`` (multiples of 32, no repeats).

    Raises:
        ConfigError: not integers, or not distinct positive multiples of 32.
    """
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ConfigError(f"--sizes must be integers like 224,320,416: {exc}") from exc
    if not _valid_sizes(sizes):
        raise ConfigError(f"--sizes must be distinct positive multiples of 32, got {text!r}")
    return sizes


@dataclass
class SweepConfig:
    """Options of ``workbench train --sizes``: one model per input size.

    Attributes:
        train: the training options shared by every size (``run`` names the sweep).
        sizes: input sizes, distinct positive multiples of 32.
        latency_images: validation images the CPU latency is measured on.
    """

    train: TrainConfig
    sizes: list[int]
    latency_images: int = 30

    def __post_init__(self) -> None:
        if not _valid_sizes(list(self.sizes)):
            raise ConfigError(f"--sizes must be distinct positive multiples of 32, got "
                              f"{','.join(map(str, self.sizes))!r}")
        if self.latency_images <= 0:
            raise ConfigError("latency_images must be positive")


@dataclass
class SweepResult(Result):
    """The trade-off report of a size sweep (``report.json``).

    Attributes:
        sweep: the sweep's name (runs are ``<sweep>-<size>``); ``model``: the model trained.
        score_formula: how ``score`` is computed; ``sizes``: one row per size; ``best``: the
            row with the highest score; ``latency_images``: images latency was measured on.
        plot, markdown, json: the report's files; ``seconds``: wall time.
    """

    sweep: str
    model: str
    score_formula: str
    sizes: list[dict[str, Any]]
    best: dict[str, Any]
    latency_images: int
    plot: str
    markdown: str
    json: str
    seconds: float


from workbench.training.eval_config import EvalConfig, EvalResult  # noqa: E402

__all__ = ["OPTIMIZERS", "EvalConfig", "EvalResult", "SweepConfig", "SweepResult",
           "TrainConfig", "TrainResult", "parse_names", "parse_sizes"]
