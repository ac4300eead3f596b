"""Detection accuracy in numpy: COCO-style mAP at one IoU threshold.

Used where predictions come from a runtime rather than Ultralytics (exported models, device
simulators), so that every export is scored with the same decode and the same matching.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from workbench.core.nms import box_iou

_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def average_precision(tp: npt.ArrayLike, conf: npt.ArrayLike, n_gt: int) -> float:
    """COCO 101-point interpolated AP of one class.

    Args:
        tp: ``(K,)`` whether each detection matched a ground-truth box.
        conf: ``(K,)`` its confidence.
        n_gt: ground-truth boxes of the class.

    Returns:
        AP in ``[0, 1]``; NaN when the class has no ground truth.
    """
    if n_gt == 0:
        return float("nan")
    order = np.argsort(-np.asarray(conf, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=np.float64)[order]
    if len(hits) == 0:
        return 0.0
    tps = np.cumsum(hits)
    recall = tps / n_gt
    precision = tps / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, _RECALL_POINTS, side="left")
    values = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
    return float(values.mean())


def map_at(pred_image: npt.ArrayLike, pred_xyxy: npt.ArrayLike, pred_conf: npt.ArrayLike,
           pred_cls: npt.ArrayLike, gt_image: npt.ArrayLike, gt_xyxy: npt.ArrayLike,
           gt_cls: npt.ArrayLike, n_classes: int, iou: float = 0.5) -> tuple[float, list[float]]:
    """mAP over classes with ground truth, greedy matching by confidence (COCO rules).

    Args:
        pred_image, pred_xyxy, pred_conf, pred_cls: ``(K,)``, ``(K, 4)``, ``(K,)``, ``(K,)``
            detections (any box unit shared with the ground truth).
        gt_image, gt_xyxy, gt_cls: ``(G,)``, ``(G, 4)``, ``(G,)`` ground truth.
        n_classes: ``C``.
        iou: the match threshold.

    Returns:
        mAP and the ``C`` per-class APs (NaN for classes without ground truth).
    """
    pi = np.asarray(pred_image, dtype=np.int64)
    pb = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    pc = np.asarray(pred_conf, dtype=np.float64)
    pk = np.asarray(pred_cls, dtype=np.int64)
    gi = np.asarray(gt_image, dtype=np.int64)
    gb = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    gk = np.asarray(gt_cls, dtype=np.int64)
    aps = []
    for c in range(n_classes):
        p = np.flatnonzero(pk == c)
        g = np.flatnonzero(gk == c)
        p = p[np.argsort(-pc[p], kind="stable")]
        tp = np.zeros(len(p), dtype=bool)
        if len(p) and len(g):
            ious = box_iou(pb[p], gb[g])
            ious[pi[p][:, None] != gi[g][None, :]] = 0.0
            taken = np.zeros(len(g), dtype=bool)
            for row in range(len(p)):  # greedy by confidence: sequential by definition
                cand = np.where(taken, -1.0, ious[row])
                best = int(cand.argmax())
                if cand[best] >= iou:
                    taken[best] = True
                    tp[row] = True
        aps.append(average_precision(tp, pc[p], len(g)))
    arr = np.asarray(aps, dtype=np.float64)
    valid = ~np.isnan(arr)
    return (float(arr[valid].mean()) if valid.any() else 0.0), aps
