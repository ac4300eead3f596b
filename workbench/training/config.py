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
        overrides: further Ultralytics training arguments (e.g. ``{"mosaic": 0.0}``).
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


@dataclass
class TrainResult(Result):
    """What a training run produced."""

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

__all__ = ["EvalConfig", "EvalResult", "SweepConfig", "SweepResult", "TrainConfig",
           "TrainResult", "parse_sizes"]
