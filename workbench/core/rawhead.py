"""Decode a YOLO detection head's raw per-level maps into the usual ``(4 + C, A)`` output.

Device exports (K210, K230, RKNN) stop at the head's convolutions: each level emits one map
``(B, 4 * R + C, H, W)`` — ``R`` box-distribution logits per box side (left, top, right,
bottom), then ``C`` class logits. The decode (softmax over the ``R`` bins, expected distance,
anchor offsets, stride scaling, sigmoid) runs on the host or the device CPU, exactly as
Ultralytics' ``Detect`` head does it, so the compiled graph holds only what NPUs run well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def anchor_grid(shapes: Sequence[tuple[int, int]],
                strides: Sequence[float]) -> tuple[FloatArray, FloatArray]:
    """Anchor centres and strides of every cell, level after level, row-major.

    Args:
        shapes: ``(H, W)`` of each level.
        strides: input pixels per cell of each level.

    Returns:
        ``centres (A, 2)`` in grid units (``x + 0.5, y + 0.5``) and ``stride (A,)``.
    """
    centres, scale = [], []
    for (h, w), s in zip(shapes, strides, strict=True):
        ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        centres.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        scale.append(np.full(h * w, float(s)))
    if not centres:
        return np.zeros((0, 2)), np.zeros(0)
    return np.concatenate(centres), np.concatenate(scale)


def decode_raw_maps(maps: Sequence[npt.ArrayLike], strides: Sequence[float],
                    reg_max: int) -> npt.NDArray[np.float32]:
    """The decoded head output of a batch.

    Args:
        maps: one ``(B, 4 * reg_max + C, H, W)`` array per level.
        strides: input pixels per cell of each level.
        reg_max: distribution bins per box side (1: the map holds the distances).

    Returns:
        ``(B, 4 + C, A)`` float32: ``[cx, cy, w, h]`` in input pixels, then class scores.
    """
    arrays = [np.asarray(m, dtype=np.float32) for m in maps]
    b = arrays[0].shape[0]
    flat = np.concatenate([m.reshape(b, m.shape[1], -1) for m in arrays], axis=2)  # (B, K, A)
    box = flat[:, :4 * reg_max]
    if reg_max > 1:
        logits = box.reshape(b, 4, reg_max, -1)
        logits = logits - logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=2, keepdims=True)
        dist = (weights * np.arange(reg_max, dtype=np.float32)[None, None, :, None]).sum(axis=2)
    else:
        dist = box
    centres, scale = anchor_grid([(m.shape[2], m.shape[3]) for m in arrays], strides)
    cx, cy = centres[:, 0], centres[:, 1]
    x1, y1 = cx - dist[:, 0], cy - dist[:, 1]
    x2, y2 = cx + dist[:, 2], cy + dist[:, 3]
    xywh = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1) * scale
    scores = 1.0 / (1.0 + np.exp(-flat[:, 4 * reg_max:]))
    return np.concatenate([xywh, scores], axis=1).astype(np.float32)
