"""Box geometry on arrays.

Conventions:
    * ``xywhn``: FiftyOne's relative ``[x_min, y_min, width, height]`` in ``[0, 1]``.
    * ``cxcywhn``: YOLO's relative ``[x_center, y_center, width, height]``.
    * ``xyxyn``: relative ``[x_min, y_min, x_max, y_max]``.
    * ``xyxy``: absolute pixels ``[x_min, y_min, x_max, y_max]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Coordinates up to this far outside ``[0, 1]`` are clipped (and reported); beyond, rejected.
CLIP_TOLERANCE = 0.01


def cxcywhn_to_xyxyn(boxes: npt.ArrayLike) -> FloatArray:
    """YOLO centre format to corners.

    Args:
        boxes: ``(N, 4)`` relative ``[cx, cy, w, h]``.

    Returns:
        ``(N, 4)`` relative ``[x1, y1, x2, y2]``.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half = b[:, 2:] / 2.0
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def xyxyn_to_xywhn(boxes: npt.ArrayLike) -> FloatArray:
    """Corners to FiftyOne's ``[x, y, w, h]``; ``(N, 4) -> (N, 4)``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def xywhn_to_xyxyn(boxes: npt.ArrayLike) -> FloatArray:
    """FiftyOne's ``[x, y, w, h]`` to corners; ``(N, 4) -> (N, 4)``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xyxyn(boxes: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    """Absolute pixel corners to relative corners.

    Args:
        boxes: ``(N, 4)`` pixel ``[x1, y1, x2, y2]``.
        width: scalar or ``(N,)`` image widths in pixels.
        height: scalar or ``(N,)`` image heights in pixels.

    Returns:
        ``(N, 4)`` relative corners.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.asarray(width, dtype=np.float64).reshape(-1, 1)
    h = np.asarray(height, dtype=np.float64).reshape(-1, 1)
    scale = np.concatenate([w, h, w, h], axis=1)
    return b / scale


@dataclass(frozen=True)
class ClipResult:
    """Outcome of :func:`clip_xyxyn`.

    Attributes:
        boxes: ``(N, 4)`` corners clipped to ``[0, 1]`` (rejected rows left as they were).
        clipped: ``(N,)`` rows that were outside ``[0, 1]`` by at most the tolerance.
        rejected: ``(N,)`` rows outside by more than the tolerance, or not finite.
        degenerate: ``(N,)`` rows (not rejected) with zero or negative width or height after
            clipping: they mark nothing.
    """

    boxes: FloatArray
    clipped: BoolArray
    rejected: BoolArray
    degenerate: BoolArray


def clip_xyxyn(boxes: npt.ArrayLike, tolerance: float = CLIP_TOLERANCE) -> ClipResult:
    """Clip relative corner boxes into the image, flagging what was clipped or rejected.

    Args:
        boxes: ``(N, 4)`` relative ``[x1, y1, x2, y2]``.
        tolerance: how far outside ``[0, 1]`` a coordinate may be and still be clipped.

    Returns:
        A :class:`ClipResult`.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite: BoolArray = np.all(np.isfinite(b), axis=1)
    safe = np.where(np.isfinite(b), b, 0.0)
    outside = (safe < 0.0) | (safe > 1.0)
    beyond = (safe < -tolerance) | (safe > 1.0 + tolerance)
    out = np.clip(safe, 0.0, 1.0)
    degenerate = (out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])
    rejected: BoolArray = ~finite | np.any(beyond, axis=1)
    degenerate &= ~rejected
    clipped = outside.any(axis=1) & ~rejected & ~degenerate
    out = np.where(rejected[:, None], safe, out)
    return ClipResult(boxes=out, clipped=clipped, rejected=rejected, degenerate=degenerate)


def outside_image(boxes_xywhn: npt.ArrayLike, tolerance: float = 1e-6) -> BoolArray:
    """Rows of FiftyOne boxes that reach outside the image.

    Args:
        boxes_xywhn: ``(N, 4)`` relative ``[x, y, w, h]``.
        tolerance: slack for float round-off.

    Returns:
        ``(N,)`` boolean mask.
    """
    c = xywhn_to_xyxyn(boxes_xywhn)
    outside: BoolArray = np.any((c < -tolerance) | (c > 1.0 + tolerance), axis=1)
    finite: BoolArray = np.all(np.isfinite(c), axis=1)
    empty: BoolArray = (c[:, 2] <= c[:, 0]) | (c[:, 3] <= c[:, 1])
    return outside | empty | ~finite
