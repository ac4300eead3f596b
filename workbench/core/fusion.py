"""Fusion of several prediction sets of the same images: weighted boxes fusion and (soft-)NMS.

Members (ensemble models, TTA passes, imported runs) are :class:`Predictions` whose
``image_index`` refers to the same images. Boxes of every member are concatenated, each box's
score becomes ``confidence * member weight``, and everything is sorted once by
``(image, class, -score)`` (ties broken by coordinates, so the result does not depend on the
order of the members). Each ``(image, class)`` run is a *segment*; boxes of different images or
classes are never fused.

Vectorisation: segments are processed side by side in *rounds*. Round ``k`` handles the
``k``-th box of every segment longer than ``k`` at once (one numpy pass), comparing it with the
clusters / kept boxes its segment has so far (a ragged gather, padded to the widest segment of
the round). The Python loop runs over rounds only, i.e. ``max segment length`` times, never over
images or boxes; the work is ``O(sum over segments of L * K)`` element operations (``L`` boxes,
``K <= L`` clusters per segment), ``O(M)`` memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from workbench.core.mining import pair_iou
from workbench.core.types import Predictions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ConfType = Literal["avg", "max"]

__all__ = ["nms_fusion", "weighted_boxes_fusion"]


class _Flat:
    """All members' boxes concatenated and sorted by ``(image, class, -score, coordinates)``.

    Attributes:
        xyxy: ``(M, 4)``; score: ``(M,)`` confidence times member weight; cls, image, member:
            ``(M,)``; probs: ``(M, C)`` or None; seg_start, seg_len: ``(S,)`` segments.
    """

    def __init__(self, members: Sequence[Predictions], weights: FloatArray,
                 skip_conf: float) -> None:
        xyxy = np.concatenate([m.xyxy for m in members]).reshape(-1, 4)
        conf = np.concatenate([m.confidence for m in members])
        member = np.concatenate([np.full(len(m), i, np.int64) for i, m in enumerate(members)])
        probs: FloatArray | None = None
        shapes = {None if m.class_probs is None else m.class_probs.shape[1] for m in members}
        if len(shapes) == 1 and None not in shapes:
            probs = np.concatenate([m.class_probs for m in members if m.class_probs is not None])
        keep = conf >= skip_conf
        score = conf * weights[member]
        cls = np.concatenate([m.class_id for m in members])
        image = np.concatenate([m.image_index for m in members])
        key = image * (int(cls.max(initial=0)) + 1) + cls
        order = np.lexsort((-score, key))
        if np.any((key[order][1:] == key[order][:-1]) & (score[order][1:] == score[order][:-1])):
            order = np.lexsort((xyxy[:, 3], xyxy[:, 2], xyxy[:, 1], xyxy[:, 0], -score, key))
        order = order[keep[order]]
        self.n_classes = None if probs is None else probs.shape[1]
        self.xyxy: FloatArray = xyxy[order]
        self.score: FloatArray = score[order]
        self.cls: IntArray = cls[order]
        self.image: IntArray = image[order]
        self.member: IntArray = member[order]
        self.probs: FloatArray | None = None if probs is None else probs[order]
        m = len(order)
        new = np.ones(m, dtype=bool)
        if m:
            new[1:] = (self.image[1:] != self.image[:-1]) | (self.cls[1:] != self.cls[:-1])
        self.seg_start: IntArray = np.flatnonzero(new).astype(np.int64)
        self.seg_len: IntArray = np.diff(np.r_[self.seg_start, m]).astype(np.int64)
        self.seg_of: IntArray = np.repeat(np.arange(len(self.seg_start)), self.seg_len)

    def __len__(self) -> int:
        return len(self.score)


def _check(members: Sequence[Predictions], weights: Sequence[float] | None) -> FloatArray:
    """Member weights as an array, validated."""
    if not len(members):
        raise ValueError("fusion needs at least one member prediction set")
    w = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(members),):
        raise ValueError(f"got {w.size} weights for {len(members)} members; give one per member")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError(f"member weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w


def _output(flat: _Flat, rows: IntArray, xyxy: FloatArray, conf: FloatArray,
            probs: FloatArray | None, agreement: IntArray) -> tuple[Predictions, IntArray]:
    """Fused boxes sorted by image, then descending confidence."""
    image = flat.image[rows]
    order = np.lexsort((-conf, image))
    n_classes = flat.n_classes
    if not len(order):
        return Predictions.empty(n_classes), np.zeros(0, np.int64)
    return (Predictions(np.clip(xyxy[order], 0.0, 1.0), conf[order], flat.cls[rows][order],
                        image[order], None if probs is None else probs[order]),
            agreement[order])


def weighted_boxes_fusion(members: Sequence[Predictions], weights: Sequence[float] | None = None,
                          iou: float = 0.55, skip_conf: float = 0.0,
                          conf_type: ConfType = "avg") -> tuple[Predictions, IntArray]:
    """Weighted boxes fusion (Solovyev et al., 2021) per image and class.

    Boxes are visited by descending ``confidence * weight``; each joins the cluster of its
    segment whose current fused box overlaps it most if that IoU is ``> iou``, else starts a
    new cluster. A cluster's box is the score-weighted mean of its boxes' corners. Its
    confidence is, for ``avg``, ``mean(score) * min(N, n) / sum(weights)`` (``n`` boxes, ``N``
    members), so a box found by one of ``N`` equally weighted members keeps ``1/N`` of its
    confidence; for ``max``, ``max(score) / max(weights)``. ``class_probs`` (when every member
    has them, same width) are score-weighted means over the cluster.

    Args:
        members: prediction sets over the same image indices; ``weights``: one per member
            (default all 1).
        iou: clustering threshold; ``skip_conf``: boxes with a lower confidence are ignored.
        conf_type: ``avg`` or ``max``.

    Returns:
        Fused ``Predictions`` (``F`` boxes, inside ``[0, 1]``, by image then confidence) and
        ``agreement (F,)``: how many distinct members contributed a box to each fused box.
    """
    w = _check(members, weights)
    if conf_type not in ("avg", "max"):
        raise ValueError(f"conf_type must be 'avg' or 'max', got {conf_type!r}")
    flat = _Flat(members, w, skip_conf)
    m = len(flat)
    x, s = flat.xyxy, flat.score
    assign = np.zeros(m, np.int64)          # cluster slot of each box
    sum_s = np.zeros(m)                     # slots share the flat layout: segment start + j
    sum_sb = np.zeros((m, 4))
    sum_b = np.zeros((m, 4))
    count = np.zeros(m, np.int64)
    fused = np.zeros((m, 4))
    max_s = np.zeros(m)
    n_clusters = np.zeros(len(flat.seg_start), np.int64)
    by_len = np.argsort(-flat.seg_len, kind="stable")
    sorted_len = flat.seg_len[by_len]
    for k in range(int(sorted_len[0]) if m else 0):
        active = by_len[:int(np.count_nonzero(sorted_len > k))]
        start = flat.seg_start[active]
        b = start + k
        n = n_clusters[active]
        width = int(n.max())
        match = np.zeros(len(active), dtype=bool)
        best = np.zeros(len(active), np.int64)
        if width:
            cols = np.arange(width)
            slots = start[:, None] + cols[None, :]   # < start + k < segment end
            ious = pair_iou(np.repeat(x[b], width, axis=0), fused[slots].reshape(-1, 4))
            ious = np.where(cols[None, :] < n[:, None], ious.reshape(-1, width), -1.0)
            best = ious.argmax(axis=1)
            match = ious[np.arange(len(active)), best] > iou
        target = np.where(match, start + best, start + n)
        n_clusters[active] = n + ~match
        created = target[~match]
        max_s[created] = s[b[~match]]
        assign[b] = target
        sum_s[target] += s[b]
        sum_sb[target] += s[b, None] * x[b]
        sum_b[target] += x[b]
        count[target] += 1
        fused[target] = np.where(sum_s[target, None] > 0,
                                 sum_sb[target] / np.maximum(sum_s[target], 1e-300)[:, None],
                                 sum_b[target] / count[target, None])
    slots_used = np.flatnonzero(count).astype(np.int64)
    n_box = count[slots_used]
    if conf_type == "avg":
        conf = sum_s[slots_used] / n_box * np.minimum(len(w), n_box) / w.sum()
    else:
        conf = max_s[slots_used] / w.max()
    slot_row = np.full(m, -1, np.int64)
    slot_row[slots_used] = np.arange(len(slots_used))
    row = slot_row[assign]
    seen = np.zeros((len(slots_used), len(w)), dtype=bool)
    seen[row, flat.member] = True
    agreement = seen.sum(axis=1).astype(np.int64)
    probs: FloatArray | None = None if flat.probs is None else np.zeros((0, flat.probs.shape[1]))
    if flat.probs is not None and m:
        bw = np.where(sum_s[assign] > 0, s, 1.0)
        by_row = np.argsort(row, kind="stable")
        bounds = np.searchsorted(row[by_row], np.arange(len(slots_used)))
        num = np.add.reduceat(flat.probs[by_row] * bw[by_row, None], bounds, axis=0)
        probs = num / np.add.reduceat(bw[by_row], bounds)[:, None]
    return _output(flat, slots_used, fused[slots_used], conf, probs, agreement)


def nms_fusion(members: Sequence[Predictions], weights: Sequence[float] | None = None,
               iou: float = 0.5, soft: bool = False, sigma: float = 0.5,
               skip_conf: float = 0.0, min_score: float = 1e-3) -> tuple[Predictions, IntArray]:
    """Greedy NMS or Gaussian soft-NMS over all members' boxes, per image and class.

    Scores are ``confidence * weight``. Hard NMS keeps the best remaining box and drops those
    overlapping it by IoU ``> iou``; soft-NMS instead multiplies their scores by
    ``exp(-IoU^2 / sigma)`` and drops boxes whose score falls below ``min_score``.

    Args:
        members: prediction sets over the same image indices; ``weights``: one per member
            (default all 1).
        iou: NMS threshold, and the overlap that counts a member as agreeing with a kept box.
        soft: Gaussian soft-NMS instead of hard NMS; ``sigma``: its width.
        skip_conf: boxes with a lower confidence are ignored.

    Returns:
        Kept ``Predictions`` (``F`` boxes with their own corners and class_probs, confidence =
        weighted, for soft-NMS decayed, score) and ``agreement (F,)``: how many distinct
        members have a box of the same image and class overlapping the kept one by IoU
        ``>= iou``.
    """
    w = _check(members, weights)
    flat = _Flat(members, w, skip_conf)
    x = flat.xyxy
    score = flat.score.copy()
    alive = np.arange(len(flat), dtype=np.int64)  # ordered by segment, then by score
    kept: list[IntArray] = []
    kept_score: list[FloatArray] = []
    while len(alive):
        seg = flat.seg_of[alive]
        first = np.ones(len(alive), dtype=bool)
        first[1:] = seg[1:] != seg[:-1]
        starts = np.flatnonzero(first)
        counts = np.diff(np.r_[starts, len(alive)])
        if soft:  # best remaining box of each segment (first one on ties)
            sa = score[alive]
            is_max = sa == np.repeat(np.maximum.reduceat(sa, starts), counts)
            cand = np.flatnonzero(is_max)
            pick = cand[np.r_[True, seg[cand][1:] != seg[cand][:-1]]]
        else:  # scores never change: the first alive box is the best
            pick = starts
        kept.append(alive[pick])
        kept_score.append(score[alive[pick]])
        ov = pair_iou(x[alive], np.repeat(x[alive[pick]], counts, axis=0))
        drop = np.zeros(len(alive), dtype=bool)
        drop[pick] = True
        if soft:
            score[alive] *= np.exp(-(ov ** 2) / sigma)
            drop |= score[alive] < min_score
        else:
            drop |= ov > iou
        alive = alive[~drop]
    rows = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    conf = np.concatenate(kept_score) if kept_score else np.zeros(0)
    agreement = _overlap_members(flat, rows, iou, len(w))
    probs = None if flat.probs is None else flat.probs[rows]
    return _output(flat, rows, x[rows], conf, probs, agreement)


def _overlap_members(flat: _Flat, rows: IntArray, iou: float, n_members: int,
                     chunk: int = 2_000_000) -> IntArray:
    """Distinct members with a box of the same segment overlapping each kept row by ``>= iou``.

    Pairs (kept row, box of its segment) are built in chunks of about ``chunk`` pairs.
    """
    out = np.zeros(len(rows), np.int64)
    seg = flat.seg_of[rows]
    lens = flat.seg_len[seg]
    ends = np.cumsum(lens)
    lo = 0
    while lo < len(rows):
        hi = max(lo + 1, int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + chunk)))
        hi = min(hi, len(rows))
        ln = lens[lo:hi]
        total = int(ln.sum())
        owner = np.repeat(np.arange(lo, hi), ln)
        offset = np.arange(total) - np.repeat(np.cumsum(ln) - ln, ln)
        box = flat.seg_start[seg[owner]] + offset
        hit = pair_iou(flat.xyxy[rows[owner]], flat.xyxy[box]) >= iou
        hit |= box == rows[owner]  # a kept box always agrees with itself, even when empty
        pairs = np.unique(owner[hit] * n_members + flat.member[box[hit]])
        out += np.bincount(pairs // n_members, minlength=len(rows))
        lo = hi
    return out
