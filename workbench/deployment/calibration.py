"""Calibration images for quantization, drawn from a curated view so they cover the data.

By default the pick is diverse: every candidate is embedded with the FP32 model's own
embedding output and a k-center greedy core-set chooses images that each lie farthest from
those already chosen, instead of the view's first N files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.diversity import k_center_greedy
from workbench.errors import ConfigError
from workbench.prediction.api import OnnxPredictor, load_batch
from workbench.store.view_data import provenance, view_filepaths
from workbench.store.workspace import Workspace

MAX_CANDIDATES = 2000
#: Fewer calibration images than this draw a warning (Rockchip's advice: 100+ varied images
#: from every capture condition).
MIN_IMAGES = 100


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


def calibration_record(ws: Workspace, view: str, images: list[str], pick: str) -> dict[str, Any]:
    """What calibrated a quantized export, for its report, with warnings on a weak set.

    Args:
        ws: the workspace.
        view: the calibration view; ``images``: the chosen paths; ``pick``: how they were
            chosen.

    Returns:
        ``{"view", "count", "pick", "sample_ids", "sources", "groups", "warnings"}``:
        ``sources`` counts images per source, ``groups`` the distinct groups; a warning when
        fewer than :data:`MIN_IMAGES` images, one source only, or one group only.
    """
    facts = provenance(ws, images)
    sources: dict[str, int] = {}
    for s in facts["sources"]:
        sources[str(s)] = sources.get(str(s), 0) + 1
    groups = {g for g in facts["groups"] if g}
    warnings = []
    if len(images) < MIN_IMAGES:
        warnings.append(f"calibration on {len(images)} images (fewer than {MIN_IMAGES}): "
                        "quantization ranges may miss conditions the device will see; add "
                        "images or raise --calibration-count")
    if len(sources) == 1 and len(images) > 1:
        warnings.append(f"every calibration image comes from one source ({next(iter(sources))}); "
                        "include every capture condition (--calibration VIEW over all sources)")
    if len(groups) == 1 and len(images) > 1:
        warnings.append(f"every calibration image is from one group ({next(iter(groups))}); "
                        "use a view that spans groups")
    return {"view": view, "count": len(images), "pick": pick,
            "sample_ids": facts["sample_ids"], "sources": sources, "groups": len(groups),
            "warnings": warnings}
