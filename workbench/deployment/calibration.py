"""Calibration images for quantization, drawn from a curated view so they cover the data.

By default the pick is diverse: every candidate is embedded with the FP32 model's own
embedding output and a k-center greedy core-set chooses images that each lie farthest from
those already chosen, instead of the view's first N files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.core.diversity import k_center_greedy
from workbench.errors import ConfigError
from workbench.prediction.api import OnnxPredictor, load_batch
from workbench.store.view_data import view_filepaths
from workbench.store.workspace import Workspace

MAX_CANDIDATES = 2000


def calibration_images(ws: Workspace, view: str, count: int, fp32: Path, seed: int = 0,
                       diverse: bool = True) -> list[str]:
    """``count`` image paths from ``view`` (labeled or not), chosen by core-set.

    Raises:
        ConfigError: the view has no images.
    """
    paths = view_filepaths(ws, view, labeled=not view.startswith(("pool", "status:")))
    if not paths:
        raise ConfigError(f"the calibration view {view!r} has no images; pass --calibration "
                          "VIEW (e.g. split:train)")
    rng = np.random.default_rng(seed)
    if len(paths) > MAX_CANDIDATES:
        paths = [paths[i] for i in sorted(rng.choice(len(paths), MAX_CANDIDATES,
                                                     replace=False).tolist())]
    if len(paths) <= count or not diverse:
        return paths[:count]
    model = OnnxPredictor(str(fp32))
    feats = []
    step = model.batch or 16  # an exported model has a static batch (1)
    for start in range(0, len(paths), step):
        x, _, _ = load_batch(paths[start:start + step], model.imgsz)
        _, emb = model.forward(x, embeddings=True)
        assert emb is not None
        feats.append(emb)
    picked = k_center_greedy(np.concatenate(feats), count, rng)
    return [paths[i] for i in picked.tolist()]
