"""Post-processing of raw YOLO head output in numpy, keeping each box's class-score vector."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Pairwise IoU of corner boxes; ``(N, 4), (M, 4) -> (N, M)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0))


#: Pairs of boxes whose IoU one NMS step computes at once (rows x boxes): bounds memory.
_IOU_BLOCK = 1 << 20


def _greedy(b: npt.NDArray[np.float64], iou: float, max_det: int) -> list[int]:
    """Greedy NMS of boxes already sorted by descending score; the kept positions.

    The IoU of a block of rows against the boxes after them is computed at once (at most
    ``_IOU_BLOCK`` pairs), so the Python loop only flips flags.
    """
    n = len(b)
    alive = np.ones(n, dtype=bool)
    keep: list[int] = []
    rows = max(1, _IOU_BLOCK // max(n, 1))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        if not alive[start:stop].any():
            continue
        over = box_iou(b[start:stop], b[start:]) > iou  # (rows, N - start)
        for i in range(start, stop):
            if not alive[i]:
                continue
            keep.append(i)
            if len(keep) >= max_det:
                return keep
            alive[i + 1:] &= ~over[i - start, i + 1 - start:]
    return keep


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, iou: float,
        classes: npt.ArrayLike | None = None,
        max_det: int = 300) -> IntArray:
    """Greedy non-maximum suppression (class-aware when ``classes`` is given).

    Boxes are visited by descending score (ties in input order); a box is kept unless a kept
    box (of its class, when class-aware) overlaps it by more than ``iou``. Each class is
    suppressed on its own and the kept boxes are merged back in score order, which is what
    the one-class-at-a-time greedy keeps, with far fewer IoU pairs.

    Args:
        boxes: ``(N, 4)`` corners; ``scores``: ``(N,)``; ``classes``: ``(N,)`` ints or None.
        iou: suppress boxes overlapping a kept one by more than this.
        max_det: keep at most this many.

    Returns:
        Indices of kept boxes, by descending score.
    """
    b: npt.NDArray[np.float64] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    b = b[order]
    if classes is None:
        return order[np.asarray(_greedy(b, iou, max_det), dtype=np.int64)]
    cls = np.asarray(classes).reshape(-1)[order]
    kept = [pos[np.asarray(_greedy(b[pos], iou, max_det), dtype=np.int64)]
            for pos in (np.flatnonzero(cls == c) for c in np.unique(cls))]
    merged = np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=np.int64)
    return order[merged[:max_det]].astype(np.int64)


def decode_yolo(output: npt.ArrayLike, conf: float, iou: float, max_det: int = 300,
                agnostic: bool = False) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """Boxes from one image's raw YOLO output, with their full class-score vectors.

    Args:
        output: ``(4 + C, A)``: per anchor ``[cx, cy, w, h]`` in input pixels, then ``C``
            class scores (sigmoid), as Ultralytics' detection head and ONNX export emit.
        conf: minimum best-class score.
        iou: NMS IoU threshold; ``agnostic``: NMS across classes.

    Returns:
        ``xyxy (K, 4)`` in input pixels, ``confidence (K,)``, ``class_id (K,)``,
        ``class_probs (K, C)``.
    """
    out = np.asarray(output, dtype=np.float64)
    probs = out[4:].T  # (A, C)
    best = probs.max(axis=1) if probs.shape[1] else np.zeros(len(probs))
    cand = np.flatnonzero(best >= conf)
    if not len(cand):
        c = probs.shape[1]
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, c))
    xywh = out[:4, cand].T
    xyxy = np.c_[xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2]
    cls = probs[cand].argmax(axis=1)
    keep = nms(xyxy, best[cand], iou, None if agnostic else cls, max_det)
    sel = cand[keep]
    return xyxy[keep], best[sel], cls[keep].astype(np.int64), probs[sel]
