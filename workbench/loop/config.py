"""Configs and results of the loop verbs: every default and validation rule of ``loop ...``.

Training settings that mean the same as ``workbench train``'s take their defaults from
:class:`~workbench.training.api.TrainConfig`, the pre-annotation threshold from
:class:`~workbench.annotation.api.PackageConfig`, strategy names from
:data:`~workbench.selection.api.STRATEGIES` and backends from
:data:`~workbench.annotation.api.BACKENDS`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.annotation.api import BACKENDS, PackageConfig
from workbench.errors import ConfigError
from workbench.results import Result
from workbench.selection.api import STRATEGIES, SelectConfig
from workbench.training.api import TrainConfig, parse_train_args  # noqa: F401 (re-export)

#: The loop's own backend: write an annotation package (the others push to a server).
PACKAGE_BACKEND = "package"


def simulation_strategies() -> list[str]:
    """Strategies a simulation (or ``loop next``) can use: every single-run strategy that
    chooses by itself (and ``random``), not ``hand-picked``."""
    return STRATEGIES.names(multi_run=False, hand_picked=False)


def next_backends() -> list[str]:
    """What ``loop next --backend`` accepts: ``package`` and every annotation backend."""
    return [PACKAGE_BACKEND, *BACKENDS.names()]


@dataclass
class SimConfig:
    """Options of ``workbench loop --simulate``.

    Attributes:
        rounds: training rounds per simulation (the first on the initial set).
        initial: images in the random initial set; ``budget``: images selected per round.
        strategies: selection strategies to compare; must include ``random``.
        seeds: independent repetitions (initial set and training seed).
        model, imgsz, epochs, patience, batch: training settings, the same for every round.
        pool: the source view whose images form the pool (their labels are the oracle's).
        val: the source view used as the fixed validation set.
        overrides: further Ultralytics training arguments; by default ``val: False``
            (validation once, after the last epoch: the round's model is its last epoch).
    """

    rounds: int = 5
    initial: int = 50
    budget: int = 50
    strategies: tuple[str, ...] = ("entropy", "random")
    seeds: int = 3
    model: str = "configs/models/micro-relu.yaml"
    imgsz: int = TrainConfig.imgsz
    epochs: int = 30
    patience: int = 0
    batch: int = TrainConfig.batch
    pool: str = "split:train"
    val: str = "split:val"
    overrides: dict[str, Any] = field(default_factory=lambda: {"val": False})

    def __post_init__(self) -> None:
        valid = simulation_strategies()
        unknown = [s for s in self.strategies if s not in valid]
        if unknown:
            raise ConfigError(f"unknown strategies {unknown}; valid: {', '.join(valid)}")
        if "random" not in self.strategies:
            raise ConfigError("--strategies must include random: label saving is measured "
                              "against it")
        for name in ("rounds", "initial", "budget", "seeds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive")

    def settings(self) -> dict[str, Any]:
        """The settings as saved beside a simulation (JSON-ready)."""
        return {**asdict(self), "strategies": list(self.strategies)}


@dataclass
class NextConfig:
    """Options of ``workbench loop next``.

    Attributes:
        budget: images to select; ``strategy``: selection strategy.
        model, imgsz, epochs, batch: training settings when a new model is needed.
        train_view, val: the training and validation views.
        backend: ``package`` (write a zip) or an annotation backend such as ``labelstudio``
            (push a project).
        out: the package path (default ``WS/annotation/<round>.zip``).
        url, project: the Label Studio server and project.
        pre_annotation_conf: confidence of the pre-annotation boxes sent along.
        allow_missing_classes: train even if some classes have no labeled box yet.
    """

    budget: int = 100
    strategy: str = SelectConfig.strategy
    model: str = TrainConfig.model
    imgsz: int = TrainConfig.imgsz
    epochs: int = TrainConfig.epochs
    batch: int = TrainConfig.batch
    train_view: str = TrainConfig.view
    val: str = TrainConfig.val
    backend: str = PACKAGE_BACKEND
    out: Path | None = None
    url: str | None = None
    project: str | None = None
    pre_annotation_conf: float = PackageConfig.pre_annotation_conf
    allow_missing_classes: bool = TrainConfig.allow_missing_classes

    def __post_init__(self) -> None:
        if self.backend not in next_backends():
            raise ConfigError(f"unknown backend {self.backend!r}; use "
                              f"{' or '.join(next_backends())}")


@dataclass
class StatusConfig:
    """Options of ``workbench loop status``: where to draw the mAP-by-labels plot (None: no
    plot)."""

    plot: Path | None = None


@dataclass
class NextResult:
    """What ``loop next`` did: the round selected, the model behind it and where it went.

    Attributes:
        round, selected, strategy: the selection round, its size and strategy.
        model_run, model_reused, map50: the training run used and whether it was reused.
        prediction_run: the pool predictions the round was selected from.
        package: the package written (``package`` backend), else None.
        project_url: the project pushed to (server backends), else None.
        next: what to do next.
    """

    round: str
    selected: int
    strategy: str
    model_run: str
    model_reused: bool
    map50: float | None
    prediction_run: str
    package: str | None = None
    project_url: str | None = None
    next: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``package`` or ``project_url``, whichever applies)."""
        return {k: v for k, v in asdict(self).items()
                if not (k in ("package", "project_url") and v is None)}


@dataclass
class StatusResult:
    """``loop status``: labeled images, the rounds with their model's mAP, the training runs.

    Attributes:
        labeled_images: labeled samples now.
        rounds: per selection round: strategy, selected, status counts, model and its mAP.
        trainings: per completed training run: labeled train images and mAP.
        plot: the mAP-by-labels plot, when one was drawn.
    """

    labeled_images: int
    rounds: list[dict[str, Any]]
    trainings: list[dict[str, Any]]
    plot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``plot`` only when drawn)."""
        out = asdict(self)
        if self.plot is None:
            del out["plot"]
        return out


def saving_text(row: dict[str, Any], key: str = "label_saving") -> str:
    """How a strategy's row of :class:`SimResult` ``strategies`` reads in a table: the labels
    it needed to match random's final mAP50, as a share, or why there is no share.

    Args:
        row: one strategy's summary row.
        key: ``label_saving`` (counted in images) or ``label_saving_boxes`` (in boxes).
    """
    saving = row.get(key)
    if saving is None:
        return "—"
    if saving["undefined"] == saving["seeds"]:
        return "undefined: random did not improve"
    if saving["mean"] is None:
        return "not reached"
    return f"{saving['mean']:.0%} ± {saving['std']:.0%}"


@dataclass
class SimResult(Result):
    """The summary of ``loop --simulate`` (also ``OUT/summary.json``).

    Attributes:
        settings: the simulation's settings.
        strategies: per strategy: ``final_labeled_images``, ``final_map50_mean``/``_std``,
            ``final_labeled_boxes_mean``/``_std`` (ground-truth boxes revealed by the oracle)
            and (not for random) the label saving against random counted in images
            (``label_saving``) and in boxes (``label_saving_boxes``), each
            :meth:`~workbench.core.curves.Saving.to_dict`.
        seconds_this_run: time this invocation took.
        plot: the learning-curves plot; ``curves``: ``curves.json``.
    """

    settings: dict[str, Any]
    strategies: dict[str, dict[str, Any]]
    seconds_this_run: float = 0.0
    plot: str = ""
    curves: str = ""
