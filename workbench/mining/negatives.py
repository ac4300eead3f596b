"""``mine --negatives VIEW``: known-negative images the model fires on become labeled negatives.

The model runs over the view's still-unlabeled images; those with a detection of confidence
>= ``fp_conf`` are hard negatives. They are labeled with empty ground truth and put in the
training split, as one change recorded like an import (``workbench annotate undo ID``). With
``choose=random`` (the baseline), as many images are drawn at random from the whole view,
whether the model fires on them or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.mining.config import MineConfig
from workbench.store import mining as store
from workbench.store.workspace import Workspace


def firing_scores(paths: list[str], weights: str, imgsz: int, classes: list[str],
                  config: MineConfig) -> np.ndarray:
    """``(N,)`` the highest detection confidence on each image (0 where nothing fires above
    ``config.fp_conf``)."""
    from workbench.training.api import predict_files

    preds = predict_files(weights, paths, imgsz, classes, config.device, conf=config.fp_conf)
    top = np.zeros(len(paths), dtype=np.float64)
    if len(preds.confidence):
        np.maximum.at(top, preds.image_index, preds.confidence)
    return top


def choose(top: np.ndarray, how: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the images to label: the firing ones, hardest first, at most ``count``
    (0: all); or (``how="random"``) ``count`` drawn from all."""
    if how == "random":
        n = min(count, len(top))
        return np.sort(rng.choice(len(top), n, replace=False)) if n else np.zeros(0, np.int64)
    firing = np.flatnonzero(top > 0)
    order = firing[np.argsort(-top[firing], kind="stable")]
    return order[:count] if count else order


def add_negatives(ws: Workspace, config: MineConfig, weights: str, imgsz: int,
                  rng: np.random.Generator, count: int) -> dict[str, Any]:
    """Label the chosen negatives of ``config.negatives`` (at most ``count``; 0: all that
    fire).

    Returns:
        ``{"view", "checked", "firing", "labeled", "import_id", "choose"}``.

    Raises:
        WorkbenchError: the view has no images at all.
    """
    from workbench.annotation.api import label_negatives

    assert config.negatives
    ids, paths = store.view_samples(ws, config.negatives, status="unlabeled")
    out: dict[str, Any] = {"view": config.negatives, "checked": len(ids), "firing": 0,
                           "labeled": 0, "import_id": "", "choose": config.choose}
    if not ids:
        if not store.view_samples(ws, config.negatives)[0]:
            raise WorkbenchError(
                f"--negatives {config.negatives!r} holds no image; ingest a folder of images "
                "without objects of interest with `workbench ingest DIR --format images "
                "--negatives` and pass --negatives tag:negative")
        return out  # every negative is labeled already
    top = firing_scores(paths, weights, imgsz, ws.classes, config)
    out["firing"] = int((top > 0).sum())
    picked = choose(top, config.choose, count, rng)
    if len(picked):
        done = label_negatives(ws, [ids[i] for i in picked.tolist()],
                               {"model": weights, "fp_conf": config.fp_conf,
                                "choose": config.choose, "view": config.negatives})
        out.update(labeled=done["labeled"], import_id=done["import_id"])
    return out
