"""Uncertainty scores over flat box arrays, and per-image aggregation.

Per-box functions take arrays and return ``(M,)`` scores where **higher means more
uncertain** (more worth labeling). Aggregation reduces them to ``(N,)`` per-image scores with
``bincount``-style reductions over ``image_index``; ranking is separate (``core.ranking``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = 1e-12


def _probs(class_probs: npt.ArrayLike) -> FloatArray:
    p = np.asarray(class_probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"class_probs must be (M, C), got shape {p.shape}")
    total = p.sum(axis=1, keepdims=True)
    # Sigmoid heads (YOLO) give independent scores: normalize to a distribution over classes.
    return np.where(total > _EPS, p / np.maximum(total, _EPS), 1.0 / max(p.shape[1], 1))


def least_confidence(class_probs: npt.ArrayLike) -> FloatArray:
    """``1 - max_c p_c`` per box; ``(M, C) -> (M,)``, in ``[0, 1 - 1/C]``."""
    p = _probs(class_probs)
    if p.shape[1] == 0:
        return np.zeros(p.shape[0])
    return 1.0 - p.max(axis=1)


def margin(class_probs: npt.ArrayLike) -> FloatArray:
    """``1 - (p_top1 - p_top2)`` per box; ``(M, C) -> (M,)``, in ``[0, 1]`` (1: a tie)."""
    p = _probs(class_probs)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(class_probs: npt.ArrayLike) -> FloatArray:
    """Normalized Shannon entropy ``-sum p log p / log C``; ``(M, C) -> (M,)``, in ``[0, 1]``."""
    p = _probs(class_probs)
    c = p.shape[1]
    if c < 2:
        return np.zeros(p.shape[0])
    h = -(p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=1)
    return np.asarray(h / np.log(c), dtype=np.float64)


def confidence_uncertainty(confidence: npt.ArrayLike) -> FloatArray:
    """For boxes without class vectors: ``1 - |2 conf - 1|`` (1 at conf 0.5, 0 at 0 or 1)."""
    c = np.asarray(confidence, dtype=np.float64)
    return 1.0 - np.abs(2.0 * c - 1.0)


def in_band(confidence: npt.ArrayLike, lo: float, hi: float) -> FloatArray:
    """1.0 for boxes with ``lo <= confidence <= hi`` (the "model is unsure" window), else 0."""
    c = np.asarray(confidence, dtype=np.float64)
    return ((c >= lo) & (c <= hi)).astype(np.float64)


BOX_SCORES: dict[str, Callable[[npt.ArrayLike], FloatArray]] = {
    "least-confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def aggregate(scores: npt.ArrayLike, image_index: npt.ArrayLike, n_images: int, how: str = "max",
              k: int = 3, empty: float = 1.0) -> FloatArray:
    """Reduce per-box scores to per-image scores.

    Args:
        scores: ``(M,)`` per-box scores.
        image_index: ``(M,)`` image of each box, in ``[0, n_images)`` (any order).
        n_images: ``N``.
        how: ``max`` | ``mean`` | ``sum`` | ``topk`` (mean of the ``k`` largest).
        k: for ``topk``.
        empty: the score of images without boxes (default 1.0: treat as uncertain).

    Returns:
        ``(N,)`` per-image scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    idx = np.asarray(image_index, dtype=np.int64)
    counts = np.bincount(idx, minlength=n_images).astype(np.float64)
    out = np.full(n_images, float(empty))
    has = counts > 0
    if how == "sum":
        out[has] = np.bincount(idx, weights=s, minlength=n_images)[has]
    elif how == "mean":
        out[has] = np.bincount(idx, weights=s, minlength=n_images)[has] / counts[has]
    elif how == "max":
        m = np.full(n_images, -np.inf)
        np.maximum.at(m, idx, s)
        out[has] = m[has]
    elif how == "topk":
        if k < 1:
            raise ValueError(f"topk needs k >= 1, got {k}")
        order = np.lexsort((-s, idx))  # by image, then score descending
        si, ss = idx[order], s[order]
        starts = np.searchsorted(si, si, side="left")
        rank = np.arange(len(si)) - starts
        keep = rank < k
        total = np.bincount(si[keep], weights=ss[keep], minlength=n_images)
        taken = np.minimum(counts, k)
        out[has] = total[has] / taken[has]
    else:
        raise ValueError(f"unknown aggregation {how!r}; use max, mean, sum or topk:K")
    return out


def parse_aggregate(text: str) -> tuple[str, int]:
    """``"topk:5"`` -> ``("topk", 5)``; ``"max"`` -> ``("max", 3)``."""
    how, _, k = text.partition(":")
    if how not in ("max", "mean", "sum", "topk") or (k and how != "topk"):
        raise ValueError(f"unknown aggregation {text!r}; use max, mean, sum or topk:K")
    return how, int(k) if k else 3
