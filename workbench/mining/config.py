"""Options and results of ``workbench mine``: every default and rule of hard-negative mining.

Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError
from workbench.results import Result

#: How ``--negatives`` picks among the images the model fires on: ``hardest`` (highest
#: confidence first) or ``random`` (the honest baseline: as many, chosen at random from the
#: whole negatives view).
CHOOSERS = ("hardest", "random")


@dataclass
class MineConfig:
    """Options of ``workbench mine``.

    Attributes:
        run: the training run whose mistakes are mined.
        view: the labeled images its evaluation runs on (a view spec).
        fp_conf: false positives (and confusions, and recall) count boxes with at least this
            confidence.
        iou: the IoU of a match (evaluation verdicts and class confusions).
        similar: for each false-positive crop, queue the K most similar pool images for
            annotation (0: off).
        embeddings: the pool's embedding field for ``similar`` (``emb_<run>``); default: the
            detector's own pooled backbone features, computed for the pool.
        round: the round ``similar`` queues (default ``mine-<run>``).
        negatives: a view of images known to hold no object of interest (e.g.
            ``tag:negative``, from ``ingest --negatives``); those the model fires on become
            labeled negatives (undoable like an import).
        per_iteration: at most this many negatives labeled per pass (0: every one that fires).
        per_pass: the number of negatives of each pass, overriding ``per_iteration`` for the
            passes it covers (e.g. the counts another arm labeled, so that a random baseline
            adds exactly as many).
        choose: ``hardest`` or ``random`` (the baseline: as many negatives picked at random).
        iterations: passes of mine -> add negatives / queue -> retrain -> evaluate, each
            retrain starting from the previous weights (0: mine once, train nothing).
        epochs: training epochs of each retrain; ``imgsz``: its input size (default: the
            run's); ``batch``: its batch size.
        critical: classes whose recall is reported per iteration.
        device: ``cpu`` or a CUDA index.
        seed: the random baseline's draws and the retrains' seed.
    """

    run: str
    view: str = "split:val"
    fp_conf: float = 0.5
    iou: float = 0.5
    similar: int = 0
    embeddings: str | None = None
    round: str | None = None
    negatives: str | None = None
    per_iteration: int = 0
    per_pass: list[int] = field(default_factory=list)
    choose: str = "hardest"
    iterations: int = 0
    epochs: int = 10
    imgsz: int | None = None
    batch: int = 16
    critical: list[str] = field(default_factory=list)
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.run:
            raise ConfigError("give --run NAME: the training run whose mistakes to mine")
        if not 0.0 <= self.fp_conf <= 1.0:
            raise ConfigError(f"--fp-conf must be within 0..1, got {self.fp_conf}")
        if not 0.0 < self.iou < 1.0:
            raise ConfigError(f"--iou must be between 0 and 1, got {self.iou}")
        for name in ("similar", "per_iteration"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got "
                                  f"{getattr(self, name)}")
        if self.iterations < 0:
            raise ConfigError(f"--iterations must be >= 0, got {self.iterations}")
        if self.epochs < 1 or self.batch < 1:
            raise ConfigError("--epochs and --batch must be positive")
        if self.imgsz is not None and (self.imgsz <= 0 or self.imgsz % 32):
            raise ConfigError(f"--imgsz must be a positive multiple of 32, got {self.imgsz}")
        if self.choose not in CHOOSERS:
            raise ConfigError(f"--choose must be one of {', '.join(CHOOSERS)}, got "
                              f"{self.choose!r}")
        if self.choose == "random" and not self.negatives:
            raise ConfigError("--choose random picks among --negatives VIEW; give one")
        if any(n < 0 for n in self.per_pass):
            raise ConfigError(f"--per-pass counts must be >= 0, got {self.per_pass}")
        if self.choose == "random" and not (self.per_iteration or self.per_pass):
            raise ConfigError("--choose random needs --per-iteration N or --per-pass N,M,... "
                              "(how many to draw)")
        if self.iterations and not self.negatives:
            raise ConfigError("--iterations retrains on the negatives mining labels: give "
                              "--negatives VIEW (queued --similar images need annotators "
                              "first: run `workbench mine` again after importing them)")

    def negatives_of_pass(self, i: int) -> int:
        """How many negatives pass ``i`` labels at most (0: every one that fires)."""
        return self.per_pass[i] if i < len(self.per_pass) else self.per_iteration


@dataclass
class MineResult(Result):
    """What ``workbench mine`` found (and, with ``--iterations``, what each pass changed).

    Attributes:
        run: the mined training run (the last retrain's, after iterations).
        view: the evaluated view; ``eval_key``: its evaluation; ``images``: its images.
        fp_conf: the confidence the counts use.
        false_positives: confident boxes that match no ground truth.
        misses: ground-truth boxes no prediction matched.
        confusions: false positives on a ground-truth box of another class.
        fp_per_image: ``false_positives / images``.
        precision: true positives / all boxes at ``fp_conf`` (read beside ``fp_per_image``:
            a retrained model may put more boxes, right and wrong, over the threshold).
        per_class: class -> ``false_positives``, ``confusions`` (predicted as it),
            ``misses``, ``ground_truth``, ``recall`` at ``fp_conf``.
        confusion_pairs: ``[{"predicted", "actual", "count"}]``, most frequent first.
        views: the saved views (``fp_<run>``, ``confusions_<run>``, ``misses_<run>``).
        similar: the ``--similar`` round: ``round``, ``queued``, ``crops``, ``embeddings``.
        negatives: the ``--negatives`` step: ``checked``, ``firing``, ``labeled``,
            ``import_id`` (what ``annotate undo`` takes).
        iterations: ``[{"iteration", "run", "fp_per_image", "precision", "map50", "recall",
            "negatives_added", "queued"}]`` (iteration 0 is the starting run).
        plot: the per-iteration plot (with ``--iterations``); ``report``: the JSON file.
        seconds: wall time.
    """

    run: str
    view: str
    eval_key: str
    images: int
    fp_conf: float
    false_positives: int
    misses: int
    confusions: int
    fp_per_image: float
    precision: float
    per_class: dict[str, dict[str, Any]]
    confusion_pairs: list[dict[str, Any]] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    similar: dict[str, Any] = field(default_factory=dict)
    negatives: dict[str, Any] = field(default_factory=dict)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    plot: str = ""
    report: str = ""
    seconds: float = 0.0
