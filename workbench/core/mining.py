"""Hard-negative mining maths: cross-class overlaps, per-class counts, nearest neighbours.

Pure numpy. Boxes are ``xyxy`` in any unit shared by both sides (the store's normalized
corners); images are integer indices.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["class_counts", "cross_class_matches", "pair_iou", "top_k_similar"]


def pair_iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of row-aligned box pairs.

    Args:
        a, b: ``(P, 4)`` xyxy boxes; row ``i`` of ``a`` is compared with row ``i`` of ``b``.

    Returns:
        ``(P,)`` IoU in ``[0, 1]`` (0 where both boxes are empty).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = w * h
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def cross_class_matches(pred_image: npt.ArrayLike, pred_xyxy: npt.ArrayLike,
                        pred_label: npt.ArrayLike, gt_image: npt.ArrayLike,
                        gt_xyxy: npt.ArrayLike, gt_label: npt.ArrayLike,
                        iou: float = 0.5) -> npt.NDArray[np.int64]:
    """For each prediction, the ground-truth box of *another* class it overlaps most.

    A false positive that sits on an object of another class is a class confusion, not a
    hallucination; this finds them without a loop over images: every (prediction, ground
    truth) pair of the same image is formed at once.

    Args:
        pred_image, pred_xyxy, pred_label: ``(F,)``, ``(F, 4)``, ``(F,)`` predictions.
        gt_image, gt_xyxy, gt_label: ``(G,)``, ``(G, 4)``, ``(G,)`` ground truth.
        iou: the least IoU that counts as overlapping.

    Returns:
        ``(F,)`` index into the ground truth of the best-overlapping box with another label
        and IoU >= ``iou``, or ``-1``.
    """
    pi = np.asarray(pred_image, dtype=np.int64)
    pb = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    pl = np.asarray(pred_label).astype(str)
    gi = np.asarray(gt_image, dtype=np.int64)
    gb = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    gl = np.asarray(gt_label).astype(str)
    out = np.full(len(pi), -1, dtype=np.int64)
    if len(pi) == 0 or len(gi) == 0:
        return out
    order = np.argsort(gi, kind="stable")
    sorted_img = gi[order]
    start = np.searchsorted(sorted_img, pi, side="left")
    count = np.searchsorted(sorted_img, pi, side="right") - start
    total = int(count.sum())
    if total == 0:
        return out
    pred_of_pair = np.repeat(np.arange(len(pi)), count)
    offsets = np.cumsum(count) - count
    gt_of_pair = order[start[pred_of_pair] + np.arange(total) - offsets[pred_of_pair]]
    overlap = pair_iou(pb[pred_of_pair], gb[gt_of_pair])
    ok = (overlap >= iou) & (pl[pred_of_pair] != gl[gt_of_pair])
    if not ok.any():
        return out
    p, g, o = pred_of_pair[ok], gt_of_pair[ok], overlap[ok]
    best = np.lexsort((-o, p))  # by prediction, highest IoU first
    p, g = p[best], g[best]
    first = np.r_[True, p[1:] != p[:-1]]
    out[p[first]] = g[first]
    return out


def class_counts(classes: list[str], **labels: npt.ArrayLike) -> dict[str, dict[str, int]]:
    """Per-class counts of several label arrays.

    Args:
        classes: the class names (rows of the table, in this order).
        **labels: ``name=(N,) labels`` for each column.

    Returns:
        ``{class: {column: count}}`` (classes absent from every array get zeros).
    """
    table: dict[str, dict[str, int]] = {c: {} for c in classes}
    for column, values in labels.items():
        uniq, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
        found = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
        for c in classes:
            table[c][column] = int(found.get(c, 0))
    return table


def top_k_similar(queries: npt.ArrayLike, base: npt.ArrayLike,
                  k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The ``k`` rows of ``base`` most cosine-similar to each query.

    Args:
        queries: ``(M, D)`` vectors.
        base: ``(P, D)`` vectors.
        k: neighbours per query (capped at ``P``).

    Returns:
        ``(M, k')`` indices into ``base``, most similar first, and their ``(M, k')`` cosine
        similarities, ``k' = min(k, P)``.
    """
    q = np.asarray(queries, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    k = min(int(k), len(b))
    if len(q) == 0 or k <= 0:
        return np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float64)
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    sim = qn @ bn.T  # (M, P)
    part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    part_sim = np.take_along_axis(sim, part, axis=1)
    order = np.argsort(-part_sim, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(part_sim, order, axis=1)
