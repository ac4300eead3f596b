"""COCO detection metrics in numpy: AP50-95, AP50, AP75, AP by box size, AR@100, and recall at
a confidence threshold or a target precision.

The matching follows pycocotools' ``COCOeval`` (bbox): per image and class, detections in
descending confidence (the top ``max_det``) each take the unmatched ground-truth box of highest
IoU at or above the threshold, preferring boxes inside the area range; ground truth outside the
range is ignored, and so are detections matched to it or unmatched and outside the range.
Precision is interpolated at 101 recall points; AR is the largest recall reached, averaged over
the IoU thresholds ``0.5:0.95`` and the classes.

Areas are in pixels of the original image: small ``< 32²``, medium ``32²-96²``, large
``>= 96²`` (COCO's ranges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.core.nms import box_iou

#: IoU thresholds ``0.50, 0.55, …, 0.95`` (``T = 10``).
IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
#: Recall points of the interpolated precision (``R = 101``).
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
#: COCO's area ranges in square pixels: name -> ``[low, high)``.
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, float("inf")),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, float("inf")),
}


@dataclass
class CocoMetrics:
    """What :func:`coco_evaluate` measured; NaN where nothing was there to measure.

    Attributes:
        precision: ``(T, K, R, A)`` interpolated precision per IoU threshold, class, recall
            point and area range (NaN where the class has no ground truth in the range).
        recall: ``(T, K, A)`` the largest recall reached (NaN likewise).
        ap, ap50, ap75: AP over ``0.5:0.95``, at IoU 0.5 and 0.75 (mean over classes).
        ap_small, ap_medium, ap_large: AP over ``0.5:0.95`` of the boxes in each area range.
        ar: AR@max_det over ``0.5:0.95`` (all areas).
        per_class_ap, per_class_ap50, per_class_ap75, per_class_ar: ``(K,)`` each.
    """

    precision: np.ndarray
    recall: np.ndarray
    ap: float
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float
    ar: float
    per_class_ap: np.ndarray
    per_class_ap50: np.ndarray
    per_class_ap75: np.ndarray
    per_class_ar: np.ndarray


def _nanmean(x: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean over the non-NaN entries (NaN where there are none), without warnings."""
    valid = ~np.isnan(x)
    total = np.where(valid, x, 0.0).sum(axis=axis)
    count = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan))


def _areas(xyxy: np.ndarray) -> np.ndarray:
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def _top_per_group(image: np.ndarray, cls: np.ndarray, conf: np.ndarray,
                   max_det: int) -> np.ndarray:
    """Indices of the ``max_det`` most confident detections of each (image, class)."""
    if len(conf) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-conf, cls, image))
    img, k = image[order], cls[order]
    start = np.r_[True, (img[1:] != img[:-1]) | (k[1:] != k[:-1])]
    group_start = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - group_start
    return np.sort(order[rank < max_det])


def _match(pi: np.ndarray, pb: np.ndarray, pc: np.ndarray, pk: np.ndarray, gi: np.ndarray,
           gb: np.ndarray, gk: np.ndarray, gt_ignore: np.ndarray,
           thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO matching of every (image, class) group.

    Returns:
        ``(A, T, D)`` whether each detection matched, and ``(A, T, D)`` whether its match is
        ignored ground truth.
    """
    n_areas, n_t = gt_ignore.shape[0], len(thresholds)
    matched = np.zeros((n_areas, n_t, len(pc)), dtype=bool)
    to_ignored = np.zeros_like(matched)
    if len(pc) == 0 or len(gk) == 0:
        return matched, to_ignored
    gt_key = gi * (int(max(pk.max(initial=0), gk.max())) + 1) + gk
    dt_key = pi * (int(max(pk.max(initial=0), gk.max())) + 1) + pk
    gt_order = np.argsort(gt_key, kind="stable")
    keys, starts = np.unique(gt_key[gt_order], return_index=True)
    ends = np.r_[starts[1:], len(gt_order)]
    slot = np.searchsorted(keys, dt_key)
    has_gt = (slot < len(keys)) & (keys[np.minimum(slot, len(keys) - 1)] == dt_key)
    lowest = float(thresholds.min())
    cand = np.flatnonzero(has_gt)
    if len(cand) == 0:
        return matched, to_ignored
    cand = cand[np.lexsort((-pc[cand], slot[cand]))]  # by group, then descending confidence
    group_keys, group_starts = np.unique(slot[cand], return_index=True)
    group_ends = np.r_[group_starts[1:], len(cand)]
    for key_pos, d0, d1 in zip(group_keys, group_starts, group_ends, strict=True):
        g = gt_order[starts[key_pos]:ends[key_pos]]
        d = cand[d0:d1]
        ious = box_iou(pb[d], gb[g])  # (d, g)
        ig = gt_ignore[:, g][:, None, :]  # (A, 1, g)
        taken = np.zeros((n_areas, n_t, len(g)), dtype=bool)
        for row in np.flatnonzero(ious.max(axis=1) >= lowest):  # greedy: sequential by rule
            iou = ious[row]
            ok = ~taken & (iou[None, None, :] >= thresholds[None, :, None])
            score = np.where(ok & ~ig, iou + 2.0, np.where(ok, iou, -1.0))
            best = score.argmax(axis=2)  # (A, T)
            hit = np.take_along_axis(score, best[..., None], axis=2)[..., 0] >= 0
            a_idx, t_idx = np.nonzero(hit)
            taken[a_idx, t_idx, best[a_idx, t_idx]] = True
            matched[:, :, d[row]] = hit
            to_ignored[:, :, d[row]] = hit & np.take_along_axis(
                np.broadcast_to(ig, taken.shape), best[..., None], axis=2)[..., 0]
    return matched, to_ignored


def _accumulate(conf: np.ndarray, tp: np.ndarray, fp: np.ndarray,
                n_gt: int) -> tuple[np.ndarray, float]:
    """Interpolated precision ``(R,)`` and the largest recall of one class, one setting."""
    if n_gt == 0:
        return np.full(len(RECALL_POINTS), np.nan), float("nan")
    if len(conf) == 0:
        return np.zeros(len(RECALL_POINTS)), 0.0
    order = np.argsort(-conf, kind="stable")
    tps, fps = np.cumsum(tp[order]), np.cumsum(fp[order])
    recall = tps / n_gt
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tps + fps > 0, tps / np.maximum(tps + fps, 1), 0.0)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    values = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return values, float(recall[-1])


def coco_evaluate(pred_image: npt.ArrayLike, pred_xyxy: npt.ArrayLike, pred_conf: npt.ArrayLike,
                  pred_cls: npt.ArrayLike, gt_image: npt.ArrayLike, gt_xyxy: npt.ArrayLike,
                  gt_cls: npt.ArrayLike, n_classes: int, max_det: int = 100) -> CocoMetrics:
    """COCO bbox evaluation (pycocotools' rules) of detections against ground truth.

    Args:
        pred_image, pred_xyxy, pred_conf, pred_cls: ``(D,)``, ``(D, 4)``, ``(D,)``, ``(D,)``
            detections, boxes in pixels of the original image (the area ranges are in pixels).
        gt_image, gt_xyxy, gt_cls: ``(G,)``, ``(G, 4)``, ``(G,)`` ground truth.
        n_classes: ``K``; class ids are ``0..K-1``.
        max_det: detections kept per image and class (COCO's ``maxDets``).

    Returns:
        The :class:`CocoMetrics`.
    """
    pi = np.asarray(pred_image, dtype=np.int64).reshape(-1)
    pb = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    pc = np.asarray(pred_conf, dtype=np.float64).reshape(-1)
    pk = np.asarray(pred_cls, dtype=np.int64).reshape(-1)
    gi = np.asarray(gt_image, dtype=np.int64).reshape(-1)
    gb = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    gk = np.asarray(gt_cls, dtype=np.int64).reshape(-1)
    keep = _top_per_group(pi, pk, pc, max_det)
    pi, pb, pc, pk = pi[keep], pb[keep], pc[keep], pk[keep]
    ranges = np.asarray(list(AREA_RANGES.values()))  # (A, 2)
    g_area, d_area = _areas(gb), _areas(pb)
    gt_ignore = ~((g_area[None] >= ranges[:, :1]) & (g_area[None] < ranges[:, 1:]))  # (A, G)
    dt_out = ~((d_area[None] >= ranges[:, :1]) & (d_area[None] < ranges[:, 1:]))  # (A, D)
    matched, to_ignored = _match(pi, pb, pc, pk, gi, gb, gk, gt_ignore, IOU_THRESHOLDS)
    ignored = np.where(matched, to_ignored, dt_out[:, None, :])  # (A, T, D)
    tp, fp = matched & ~ignored, ~matched & ~ignored
    n_a, n_t, n_r = len(ranges), len(IOU_THRESHOLDS), len(RECALL_POINTS)
    precision = np.full((n_t, n_classes, n_r, n_a), np.nan)
    recall = np.full((n_t, n_classes, n_a), np.nan)
    for k in range(n_classes):
        d = pk == k
        n_gt = (~gt_ignore[:, gk == k]).sum(axis=1)  # (A,)
        for a in range(n_a):
            for t in range(n_t):
                precision[t, k, :, a], recall[t, k, a] = _accumulate(
                    pc[d], tp[a, t, d], fp[a, t, d], int(n_gt[a]))
    per_class_ap = _nanmean(precision[..., 0], axis=(0, 2))
    t75 = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.75))[0])
    return CocoMetrics(
        precision=precision, recall=recall,
        ap=float(_nanmean(precision[..., 0])), ap50=float(_nanmean(precision[0, ..., 0])),
        ap75=float(_nanmean(precision[t75, ..., 0])),
        ap_small=float(_nanmean(precision[..., 1])), ap_medium=float(_nanmean(precision[..., 2])),
        ap_large=float(_nanmean(precision[..., 3])), ar=float(_nanmean(recall[..., 0])),
        per_class_ap=per_class_ap, per_class_ap50=_nanmean(precision[0, :, :, 0], axis=1),
        per_class_ap75=_nanmean(precision[t75, :, :, 0], axis=1),
        per_class_ar=_nanmean(recall[:, :, 0], axis=0))


def _class_curve(tp: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative TP count, precision and the confidence at each distinct-confidence cut."""
    order = np.argsort(-conf, kind="stable")
    c, hits = conf[order], tp[order].astype(np.float64)
    tps = np.cumsum(hits)
    precision = tps / np.arange(1, len(hits) + 1)
    last = np.r_[c[1:] != c[:-1], True]  # a threshold keeps every box of equal confidence
    return tps[last], precision[last], c[last]


def recall_at_conf(tp: npt.ArrayLike, conf: npt.ArrayLike, cls: npt.ArrayLike,
                   n_gt: npt.ArrayLike, threshold: float) -> np.ndarray:
    """Recall of each class counting the detections with confidence ``>= threshold``.

    Args:
        tp: ``(D,)`` whether each detection matched ground truth (at one IoU).
        conf: ``(D,)`` its confidence; ``cls``: ``(D,)`` its class id.
        n_gt: ``(K,)`` ground-truth boxes per class.
        threshold: the deploy confidence.

    Returns:
        ``(K,)`` recall; NaN for classes without ground truth.
    """
    t = np.asarray(tp, dtype=bool).reshape(-1)
    c = np.asarray(conf, dtype=np.float64).reshape(-1)
    k = np.asarray(cls, dtype=np.int64).reshape(-1)
    gt = np.asarray(n_gt, dtype=np.float64).reshape(-1)
    hits = np.bincount(k[t & (c >= threshold)], minlength=len(gt))[:len(gt)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gt > 0, hits / np.maximum(gt, 1), np.nan)


def recall_at_precision(tp: npt.ArrayLike, conf: npt.ArrayLike, cls: npt.ArrayLike,
                        n_gt: npt.ArrayLike, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the highest recall on the PR curve whose precision is ``>= target``.

    The curve is cut at each distinct confidence (every box at or above it counts).

    Args:
        tp, conf, cls: ``(D,)`` detections (see :func:`recall_at_conf`).
        n_gt: ``(K,)`` ground-truth boxes per class.
        target: the precision to hold.

    Returns:
        ``(K,)`` recall (0 where no cut reaches ``target``, NaN without ground truth) and
        ``(K,)`` the confidence threshold where it is reached (NaN where none is).
    """
    t = np.asarray(tp, dtype=bool).reshape(-1)
    c = np.asarray(conf, dtype=np.float64).reshape(-1)
    k = np.asarray(cls, dtype=np.int64).reshape(-1)
    gt = np.asarray(n_gt, dtype=np.int64).reshape(-1)
    recall = np.where(gt > 0, 0.0, np.nan)
    thresholds = np.full(len(gt), np.nan)
    for j in np.flatnonzero(gt > 0):
        d = k == j
        if not d.any():
            continue
        tps, precision, cuts = _class_curve(t[d], c[d])
        ok = np.flatnonzero((precision >= target) & (tps > 0))
        if len(ok):
            best = ok[np.argmax(tps[ok])]  # ties: the highest threshold (fewest boxes)
            recall[j] = tps[best] / gt[j]
            thresholds[j] = cuts[best]
    return recall, thresholds


def match_detections(pred_image: npt.ArrayLike, pred_xyxy: npt.ArrayLike,
                     pred_conf: npt.ArrayLike, pred_cls: npt.ArrayLike, gt_image: npt.ArrayLike,
                     gt_xyxy: npt.ArrayLike, gt_cls: npt.ArrayLike, iou: float = 0.5
                     ) -> np.ndarray:
    """Which detections match a ground-truth box of their class at one IoU (COCO's rules).

    Per image and class, detections in descending confidence each take the unmatched
    ground-truth box of highest IoU at or above ``iou``; every area counts and no ``max_det``
    cut applies.

    Args:
        pred_image, pred_xyxy, pred_conf, pred_cls: ``(D,)``, ``(D, 4)``, ``(D,)``, ``(D,)``
            detections.
        gt_image, gt_xyxy, gt_cls: ``(G,)``, ``(G, 4)``, ``(G,)`` ground truth, boxes in the
            same coordinates as the detections' (pixels, normalised: any, if consistent).
        iou: the IoU a match needs, in ``(0, 1]``.

    Returns:
        ``(D,)`` bool: the detection is a true positive.

    Raises:
        ValueError: ``iou`` is outside ``(0, 1]``.
    """
    if not 0.0 < float(iou) <= 1.0:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    pi = np.asarray(pred_image, dtype=np.int64).reshape(-1)
    pb = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    pc = np.asarray(pred_conf, dtype=np.float64).reshape(-1)
    pk = np.asarray(pred_cls, dtype=np.int64).reshape(-1)
    gi = np.asarray(gt_image, dtype=np.int64).reshape(-1)
    gb = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    gk = np.asarray(gt_cls, dtype=np.int64).reshape(-1)
    gt_ignore = np.zeros((1, len(gk)), dtype=bool)  # one area range: all
    matched, _ = _match(pi, pb, pc, pk, gi, gb, gk, gt_ignore, np.array([float(iou)]))
    return matched[0, 0]
