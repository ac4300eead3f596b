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


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, iou: float,
        classes: npt.ArrayLike | None = None,
        max_det: int = 300) -> IntArray:
    """Greedy non-maximum suppression (class-aware when ``classes`` is given).

    Args:
        boxes: ``(N, 4)`` corners; ``scores``: ``(N,)``; ``classes``: ``(N,)`` ints or None.
        iou: suppress boxes overlapping a kept one by more than this.
        max_det: keep at most this many.

    Returns:
        Indices of kept boxes, by descending score.
    """
    b: npt.NDArray[np.float64] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64)
    if classes is not None:  # offset boxes per class so different classes never overlap
        c = np.asarray(classes, dtype=np.float64)
        b = b + (c * (b.max() + 1.0 if len(b) else 1.0))[:, None]
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while len(order) and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        if len(order) == 1:
            break
        overlaps = box_iou(b[i:i + 1], b[order[1:]])[0]
        order = order[1:][overlaps <= iou]
    return np.asarray(keep, dtype=np.int64)


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
