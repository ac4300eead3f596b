"""Per-image scores computed once, when predictions are written, so that selection is a walk
of an indexed field (``scores_<run>.<key>``).

Every registered per-box strategy with a ``score_key`` is aggregated with ``max``; strategies
with a ``score_key`` that are not per-box (``tta-disagreement``) are given by the predictor.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from workbench.core import scoring
from workbench.core.types import Predictions
from workbench.selection.strategies import STRATEGIES

FloatArray = npt.NDArray[np.float64]


def image_scores(preds: Predictions, n_images: int, tta: FloatArray | None = None,
                 empty: float = 1.0) -> dict[str, FloatArray]:
    """Per-image scores of the per-box strategies (max over boxes), box stats, TTA.

    Args:
        preds: the boxes of ``n_images`` images.
        n_images: ``N``.
        tta: ``(N,)`` disagreement between TTA passes (``predict --tta``), or None.
        empty: score of an image without boxes.

    Returns:
        ``{"least_confidence", "margin", "entropy", "max_conf", "n_boxes"}`` (each
        ``(N,)``; one key per registered per-box strategy) plus ``"tta_disagreement"`` with
        ``tta``.
    """
    idx = preds.image_index
    out: dict[str, FloatArray] = {}
    for entry in STRATEGIES:
        box_score = entry.value.box_score
        if not entry.meta["per_box"] or not entry.meta["score_key"] or box_score is None:
            continue
        if preds.class_probs is not None and preds.class_probs.shape[1] > 0:
            per_box = box_score(preds.class_probs)
        else:
            per_box = scoring.confidence_uncertainty(preds.confidence)
        out[entry.meta["score_key"]] = scoring.aggregate(per_box, idx, n_images, "max",
                                                         empty=empty)
    out["max_conf"] = scoring.aggregate(preds.confidence, idx, n_images, "max", empty=0.0)
    out["n_boxes"] = np.bincount(idx, minlength=n_images).astype(np.float64)
    if tta is not None:
        out[tta_key()] = np.asarray(tta, dtype=np.float64)
    return out


def tta_key() -> str:
    """The ``scores_<run>`` key of the TTA disagreement."""
    return str(next(e.meta["score_key"] for e in STRATEGIES if e.meta["needs_tta"]))


def indexed_keys(scores: dict[str, FloatArray]) -> list[str]:
    """The keys of ``scores`` that strategies walk, hence to index (strategy order)."""
    return [e.meta["score_key"] for e in STRATEGIES if e.meta["score_key"] in scores]


def presence_key() -> str:
    """A key every scored image has (the first per-box strategy's): missing = not predicted."""
    return str(next(e.meta["score_key"] for e in STRATEGIES
                    if e.meta["per_box"] and e.meta["score_key"]))
