"""Options and results of ``workbench ssl pretrain | embed | probe | compare``.

Every default and validation rule of the self-supervised capability lives here; the CLI and
the App read them (``default(PretrainConfig, "epochs")``). Light at import: no torch, no
store (the method and engine names are checked against :data:`workbench.ssl.methods.METHODS`
and :data:`workbench.ssl.engines.ENGINES`, which are light too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError
from workbench.raypool import check_options
from workbench.results import Result
from workbench.ssl.engines import ENGINES

#: Input sizes pretraining accepts (a multiple of the detector's stride 32).
MIN_IMGSZ, MAX_IMGSZ = 64, 640


def _check_imgsz(imgsz: int) -> None:
    if not MIN_IMGSZ <= imgsz <= MAX_IMGSZ or imgsz % 32:
        raise ConfigError(f"--imgsz must be a multiple of 32 between {MIN_IMGSZ} and "
                          f"{MAX_IMGSZ}, got {imgsz}")


@dataclass
class PretrainConfig:
    """Options of ``workbench ssl pretrain``.

    Attributes:
        view: the images to learn from (a view spec; several joined by ``|`` are united:
            the default is the unlabeled pool and the training split).
        method: a name of :data:`workbench.ssl.methods.METHODS`.
        model: the detector whose backbone is pretrained: a model YAML (built from scratch) or
            a local ``.pt`` (see :func:`workbench.training.api.resolve_model`).
        imgsz: crop size in pixels (multiple of 32).
        epochs: passes over the view's images; ``batch``: images per step.
        lr: AdamW learning rate; ``weight_decay``: its weight decay.
        device: ``cpu`` or a CUDA index such as ``0``.
        run: run name (default: generated); ``resume``: continue that run's last checkpoint
            (up to ``epochs`` in all).
        seed: shuffling, augmentation and initialisation seed.
        workers: dataloader worker processes (0: decode in the training process).
        max_images: use at most this many images of the view (a random subset; 0: all).
    """

    view: str = "pool|split:train"
    method: str = "simclr"
    model: str = "yolov8n.yaml"
    imgsz: int = 160
    epochs: int = 10
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    device: str = "cpu"
    run: str | None = None
    resume: bool = False
    seed: int = 0
    workers: int = 0
    max_images: int = 0

    def __post_init__(self) -> None:
        from workbench.ssl.methods import METHODS

        METHODS.entry(self.method)  # unknown names list the valid ones
        _check_imgsz(self.imgsz)
        if self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}")
        if self.batch < 2:
            raise ConfigError(f"--batch must be at least 2 (contrastive losses compare the "
                              f"images of a batch), got {self.batch}")
        if self.lr <= 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if self.workers < 0 or self.max_images < 0:
            raise ConfigError("--workers and --max-images must be >= 0")
        if self.resume and not self.run:
            raise ConfigError("--resume needs --run NAME (see `workbench runs --kind "
                              "ssl-pretrain`)")


@dataclass
class PretrainResult(Result):
    """What a pretraining run produced.

    Attributes:
        run: the run's name; ``method``: the SSL method; ``checkpoint``: the detector
            checkpoint (``train --model`` loads it with the pretrained backbone).
        epochs: epochs done in all; ``images``: images of the view; ``steps``: optimiser
            steps of this call; ``seconds``: wall time of this call.
        images_per_s: images (not views) per second of this call's training steps.
        final_loss: mean loss of the last epoch; ``losses``: mean loss per epoch (all epochs).
        backbone_layers: how many leading detector layers the backbone is (up to SPPF).
        feature_dim: the pooled feature size; ``imgsz``: the crop size.
        run_dir: where the run keeps its files; ``resumed``: this call continued a run.
    """

    run: str
    method: str
    checkpoint: str
    epochs: int
    images: int
    steps: int
    seconds: float
    images_per_s: float
    final_loss: float
    losses: list[float] = field(default_factory=list)
    backbone_layers: int = 0
    feature_dim: int = 0
    imgsz: int = 0
    run_dir: str = ""
    resumed: bool = False


@dataclass
class EmbedConfig:
    """Options of ``workbench ssl embed``.

    Attributes:
        run: a finished (or interrupted) pretraining run whose backbone embeds.
        view: the images to embed (default: every image).
        batch: images per forward pass; ``device``: ``cpu`` or a CUDA index.
        visualization: 2-D map method for the App's Embeddings panel (a name of
            :data:`workbench.store.visualization.METHODS`; ``none``: skip it).
        similarity: also build a FiftyOne Brain similarity index (sort by similarity).
        engine: where the backbone runs, a name of :data:`workbench.ssl.engines.ENGINES`
            (``local``: this process; ``ray``: an actor pool on a Ray cluster).
        address: the Ray cluster (``ray``), as ``predict --address``: None (a Ray started
            for the command), ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``.
        workers: ``ray`` actors, one backbone each (None: one per CPU, or GPU, of the cluster).
        chunk: images embedded, then written and kept, at a time (a killed embed loses at most
            the chunk in flight).
        resume: embed only the images of the view that lack ``emb_<run>`` (after a killed
            embed, or when the pool grew); the maps and index are then rebuilt over all.
    """

    run: str
    view: str = "all"
    batch: int = 32
    device: str = "cpu"
    visualization: str = "pca"
    similarity: bool = True
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    chunk: int = 512
    resume: bool = False

    def __post_init__(self) -> None:
        if not self.run:
            raise ConfigError("give --run NAME: a pretraining run (`workbench ssl pretrain`)")
        if self.batch <= 0 or self.chunk <= 0:
            raise ConfigError(f"--batch and --chunk must be positive, got {self.batch} and "
                              f"{self.chunk}")
        ENGINES.entry(self.engine)  # unknown names list the valid ones
        check_options(self.engine, self.address, self.workers)


@dataclass
class EmbedResult(Result):
    """What ``ssl embed`` wrote: ``emb_<run>`` on ``images`` samples (``embedded`` now by
    ``engine``, ``skipped`` already embedded: ``--resume``), and the Brain runs."""

    run: str
    embeddings_field: str
    images: int
    dim: int
    seconds: float
    visualization_key: str | None = None
    similarity_key: str | None = None
    engine: str = "local"
    embedded: int = 0
    skipped: int = 0


@dataclass
class ProbeConfig:
    """Options of ``workbench ssl probe``: k-NN on embeddings of labeled ground-truth boxes.

    Attributes:
        run: the pretraining run whose backbone is probed.
        train: the view whose labeled boxes are the neighbours; ``val``: the view scored.
        k: neighbours (cosine similarity, majority vote weighted by similarity).
        crop_size: each box is cropped (with ``context`` of its size around it), resized to
            this many pixels square (multiple of 32).
        context: margin added around each box, as a fraction of its size.
        min_box: boxes smaller than this many pixels on their longer side are skipped.
        max_boxes: at most this many boxes per view (a seeded random subset; 0: all).
        batch: crops per forward pass; ``device``: ``cpu`` or a CUDA index.
        seed: random-backbone initialisation and subset seed.
    """

    run: str
    train: str = "split:train"
    val: str = "split:val"
    k: int = 5
    crop_size: int = 64
    context: float = 0.1
    min_box: int = 4
    max_boxes: int = 2000
    batch: int = 64
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.run:
            raise ConfigError("give --run NAME: a pretraining run (`workbench ssl pretrain`)")
        if self.k <= 0:
            raise ConfigError(f"--k must be positive, got {self.k}")
        if self.crop_size < 32 or self.crop_size % 32:
            raise ConfigError(f"--crop-size must be a multiple of 32 (>= 32), got "
                              f"{self.crop_size}")
        if self.context < 0 or self.max_boxes < 0 or self.min_box < 0:
            raise ConfigError("--context, --min-box and --max-boxes must be >= 0")


@dataclass
class ProbeResult(Result):
    """k-NN accuracy of the pretrained backbone beside a randomly initialised one.

    Attributes:
        accuracy: top-1 accuracy on the val boxes with the pretrained backbone.
        random_accuracy: the same probe with the same architecture, freshly initialised.
        majority_accuracy: always answering the most frequent training class.
        per_class: class -> ``{"support", "accuracy", "random_accuracy"}``.
    """

    run: str
    k: int
    train_boxes: int
    val_boxes: int
    accuracy: float
    random_accuracy: float
    majority_accuracy: float
    per_class: dict[str, dict[str, float]]
    seconds: float


def parse_labels(text: str) -> list[int]:
    """``"50,100,200"`` -> ``[50, 100, 200]`` (distinct positive integers, ascending).

    Raises:
        ConfigError: not integers, or not distinct and positive.
    """
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ConfigError(f"--labels must be integers like 50,100,200: {exc}") from exc
    if not values or min(values) <= 0 or len(set(values)) != len(values):
        raise ConfigError(f"--labels must be distinct positive integers, got {text!r}")
    return sorted(values)


@dataclass
class CompareConfig:
    """Options of ``workbench ssl compare``: SSL start vs scratch on the same labeled subsets.

    Attributes:
        run: the pretraining run whose checkpoint is one start.
        labels: sizes of the labeled training subsets (images of ``view``).
        seeds: subsets (and training seeds) per size.
        baseline: another local ``.pt`` to start from as well (optional).
        view: labeled training images the subsets are drawn from; ``val``: validation view.
        imgsz, epochs, batch, device: the training options, the same for every start.
        out: report folder (default: ``WS/runs/ssl/<run>/compare``).
    """

    run: str
    labels: list[int] = field(default_factory=lambda: [50, 100])
    seeds: int = 1
    baseline: str | None = None
    view: str = "split:train"
    val: str = "split:val"
    imgsz: int = 160
    epochs: int = 10
    batch: int = 16
    device: str = "cpu"
    out: str | None = None

    def __post_init__(self) -> None:
        if not self.run:
            raise ConfigError("give --run NAME: a pretraining run (`workbench ssl pretrain`)")
        if not self.labels or min(self.labels) <= 0:
            raise ConfigError("--labels needs positive subset sizes, e.g. 50,100")
        if self.seeds <= 0 or self.epochs <= 0 or self.batch <= 0:
            raise ConfigError("--seeds, --epochs and --batch must be positive")
        _check_imgsz(self.imgsz)


@dataclass
class CompareResult(Result):
    """Every trained point (start x labels x seed) and the mean/std per start and size."""

    run: str
    points: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    markdown: str
    plot: str
    json: str
    seconds: float
