"""Options of ``workbench select`` (every default and rule) and what a selection returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workbench.core import scoring
from workbench.errors import ConfigError
from workbench.results import Result
from workbench.selection.diversity import DIVERSITY
from workbench.selection.strategies import STRATEGIES, image_level


def parse_class_weights(items: Iterable[str]) -> dict[str, float]:
    """``["NAME=W", ...]`` (``--class-weight``) as ``{NAME: W}``.

    Raises:
        ConfigError: an item is not ``NAME=W`` with a number ``W``.
    """
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ConfigError(f"--class-weight expects NAME=W, got {item!r}")
    return weights


@dataclass
class SelectConfig:
    """Options of ``workbench select``.

    Attributes:
        n: how many images to select.
        run: prediction run to score (default: the latest); ``A,B,...`` for an ensemble.
        strategy: a name of :data:`~workbench.selection.strategies.STRATEGIES`.
        aggregate: ``max`` | ``mean`` | ``sum`` | ``topk:K`` over an image's boxes.
        diversity: a name of :data:`~workbench.selection.diversity.DIVERSITY` (needs
            ``embeddings`` unless ``none``).
        embeddings: the embedding field for diversity.
        class_balance: fill equal quotas per predicted class.
        class_weights: class name -> weight multiplying its boxes' scores.
        conf_band: score = number of boxes with confidence in ``[lo, hi]``.
        empty_score: score of images without a predicted box (default: uncertain).
        round: round name (default ``round-K``); ``replace``: overwrite an existing round.
        seed: tie-breaks and random picks; ``dry_run``: choose but write nothing.
        calibrated: score the run's boxes after its stored calibration (``workbench
            calibrate --run RUN``): uncertainty from calibrated probabilities.
        sample_ids: the images to queue, for the ``hand-picked`` strategy (the App's
            selection); only unlabeled pool images are taken.
    """

    n: int
    run: str | None = None
    strategy: str = "entropy"
    aggregate: str = "max"
    diversity: str = "none"
    embeddings: str | None = None
    class_balance: bool = False
    class_weights: dict[str, float] = field(default_factory=dict)
    conf_band: tuple[float, float] | None = None
    empty_score: float = 1.0
    round: str | None = None
    replace: bool = False
    seed: int = 0
    dry_run: bool = False
    sample_ids: list[str] = field(default_factory=list)
    calibrated: bool = False

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ConfigError(f"select needs a positive number of images, got {self.n}")
        meta = STRATEGIES.meta(self.strategy)  # unknown names list the valid ones
        if image_level(self.strategy) and (
                self.class_balance or self.class_weights or self.conf_band
                or self.diversity != "none" or self.aggregate != "max"):
            raise ConfigError(f"--strategy {self.strategy} scores whole images; it does not "
                              "combine with --aggregate, --class-weight, --conf-band, "
                              "--class-balance or --diversity")
        if meta["multi_run"] and len((self.run or "").split(",")) < 2:
            raise ConfigError(f"--strategy {self.strategy} needs --run A,B[,C...]: the "
                              "prediction runs of the ensemble members")
        if meta["hand_picked"] != bool(self.sample_ids):
            raise ConfigError(f"--strategy {self.strategy} " + (
                "needs the images to queue (--sample-id, or select them in the App)"
                if meta["hand_picked"] else "does not take --sample-id; use --strategy "
                + ", ".join(STRATEGIES.names(hand_picked=True))))
        if self.calibrated and not (meta["per_box"] and meta["score_key"]):
            raise ConfigError(f"--calibrated rescores boxes; --strategy {self.strategy} does "
                              "not score boxes (use entropy, margin or least-confidence)")
        if DIVERSITY.meta(self.diversity)["needs_embeddings"] and not self.embeddings:
            raise ConfigError(f"--diversity {self.diversity} needs --embeddings FIELD "
                              "(see `workbench predict --embeddings`)")
        try:
            scoring.parse_aggregate(self.aggregate)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if self.conf_band and not 0 <= self.conf_band[0] <= self.conf_band[1] <= 1:
            raise ConfigError(f"--conf-band needs 0 <= LO <= HI <= 1, got {self.conf_band}")

    @classmethod
    def from_options(cls, n: int, class_weight: Iterable[str] = (),
                     **options: Any) -> SelectConfig:
        """A config from CLI-style options: ``class_weight`` as ``NAME=W`` strings."""
        return cls(n=n, class_weights=parse_class_weights(class_weight), **options)

    @property
    def fast(self) -> bool:
        """Whether the precomputed, indexed per-image scores answer this selection."""
        meta = STRATEGIES.meta(self.strategy)
        if not meta["score_key"]:
            return False
        if not meta["per_box"]:
            return True
        return (self.aggregate == "max" and self.diversity == "none" and not self.class_balance
                and not self.calibrated
                and not self.class_weights and self.conf_band is None
                and self.empty_score == 1.0)


@dataclass
class SelectResult(Result):
    """What :func:`~workbench.selection.select.select` chose."""

    round: str
    selected: int
    sample_ids: list[str]
    strategy: str
    seconds: float
    scores: list[float] = field(default_factory=list)
    run: str | None = None
    candidates: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
