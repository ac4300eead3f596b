"""The self-supervised capability's public surface: pretrain, embed, probe, compare.

Light at import (configs, results, the method registry); the verbs import torch, lightly,
Ultralytics and the store's FiftyOne parts when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.ssl.config import (
    CompareConfig,
    CompareResult,
    EmbedConfig,
    EmbedResult,
    PretrainConfig,
    PretrainResult,
    ProbeConfig,
    ProbeResult,
    parse_labels,
)
from workbench.ssl.methods import METHODS
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.ssl.pretrain import EpochCallback
    from workbench.store.workspace import Workspace

__all__ = ["METHODS", "CompareConfig", "CompareResult", "EmbedConfig", "EmbedResult",
           "PretrainConfig", "PretrainResult", "ProbeConfig", "ProbeResult",
           "backbone_features", "checkpoint", "compare", "embed", "file_features",
           "parse_labels", "pretrain", "probe"]


@lock.writes(recover=False)
def pretrain(ws: Workspace, config: PretrainConfig,
             on_epoch: EpochCallback | None = None) -> PretrainResult:
    """Pretrain the detector's backbone on ``config.view`` (or resume ``config.run``),
    record the run and write its detector checkpoint.

    ``on_epoch(epoch, epochs, {"loss", "images_per_s", ...})`` is called after each epoch.

    Raises:
        WorkbenchError: empty view, a run that exists or cannot be resumed, bad model spec,
            no CUDA device for ``--device 0``.
    """
    from workbench.ssl.pretrain import pretrain as run_pretrain

    return run_pretrain(ws, config, on_epoch=on_epoch)


def checkpoint(ws: Workspace, run: str) -> Path:
    """The detector checkpoint of pretraining run ``run`` (``train --model`` loads it).

    Raises:
        WorkbenchError: no such pretraining run, or it saved no checkpoint yet.
    """
    from workbench.ssl.embed import pretrained_checkpoint

    return pretrained_checkpoint(ws, run)


@lock.writes
def embed(ws: Workspace, config: EmbedConfig,
          progress: Callable[[int, int], None] | None = None) -> EmbedResult:
    """Store the pooled backbone features of run ``config.run`` as ``emb_<run>`` on
    ``config.view``, with a 2-D map and a similarity index for the App.

    ``progress(images done, total)`` is called after each batch.

    Raises:
        WorkbenchError: unknown run, empty view, unreadable image.
    """
    from workbench.ssl.embed import embed_view

    return embed_view(ws, config, progress)


def probe(ws: Workspace, config: ProbeConfig) -> ProbeResult:
    """k-NN accuracy on labeled box crops (train -> val) of the pretrained backbone, beside
    the same backbone freshly initialised (read-only: writes nothing).

    Raises:
        WorkbenchError: unknown run, no labeled boxes in either view.
    """
    from workbench.ssl.probe import run_probe

    return run_probe(ws, config)


@lock.writes(recover=False)
def compare(ws: Workspace, config: CompareConfig) -> CompareResult:
    """Train the same detector from the SSL checkpoint and from scratch (and ``baseline``)
    on the same labeled subsets; a table, a curve and every point.

    Each training is a recorded ``train`` run; the subsets are tags while they train.
    """
    from workbench.ssl.compare import run_compare

    return run_compare(ws, config)


def backbone_features(checkpoint_path: str, device: str = "cpu") -> Callable[..., Any]:
    """A feature function of a detector checkpoint's backbone (eval mode, loaded once).

    Returns:
        ``features(images (N, 3, S, S) float32 in [0, 1], batch) -> (N, C)`` L2-normalised
        pooled backbone features, the same features ``ssl embed`` and ``predict
        --embeddings`` store.
    """
    from workbench.ssl.features import load_backbone, pooled_features

    backbone = load_backbone(checkpoint_path, device)

    def features(images: Any, batch: int = 32) -> Any:
        return pooled_features(backbone, (images[s:s + batch]
                                          for s in range(0, len(images), batch)), device)

    return features


def file_features(checkpoint_path: str, paths: list[str], imgsz: int, batch: int = 32,
                  device: str = "cpu") -> Any:
    """``(N, C)`` pooled backbone features of image files, letterboxed to ``imgsz``."""
    from workbench.ssl.features import image_features, load_backbone

    return image_features(load_backbone(checkpoint_path, device), paths, imgsz, batch, device)
