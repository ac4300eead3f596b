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
    with np.errstate(invalid="ignore", over="ignore"):  # inf / nan pass through, flagged later
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


#: Verdicts of :func:`check_geometry`, one per box (``int8`` codes, worst wins).
BOX_OK, BOX_CLIPPED, BOX_ZERO_AREA, BOX_NON_FINITE, BOX_NEGATIVE_SIZE, BOX_OUTSIDE = range(6)
VERDICT_NAMES = ("ok", "clipped", "zero-area", "non-finite", "negative-size", "outside")


@dataclass(frozen=True)
class GeometryCheck:
    """Outcome of :func:`check_geometry`.

    Attributes:
        verdict: ``(N,)`` int8 codes ``BOX_*``.
        boxes: ``(N, 4)`` relative corners, clipped to ``[0, 1]`` for ``ok``/``clipped`` rows
            (other rows as given).
    """

    verdict: npt.NDArray[np.int8]
    boxes: FloatArray

    @property
    def rejected(self) -> BoolArray:
        """``(N,)`` rows that are errors: not finite, negative size, or outside."""
        out: BoolArray = self.verdict >= BOX_NON_FINITE
        return out

    @property
    def keep(self) -> BoolArray:
        """``(N,)`` rows to keep (``ok`` or ``clipped``)."""
        out: BoolArray = self.verdict <= BOX_CLIPPED
        return out


def check_geometry(xyxyn: npt.ArrayLike, wh: npt.ArrayLike | None = None,
                   tolerance: float = CLIP_TOLERANCE) -> GeometryCheck:
    """The one box rule for every format: finite, positive size, inside the image.

    Rules, in order (the first that applies is the verdict): any number not finite ->
    ``non-finite``; a negative width or height (as written in ``wh``, or ``x2 < x1`` /
    ``y2 < y1``) -> ``negative-size``; a corner more than ``tolerance`` outside ``[0, 1]`` ->
    ``outside``; zero width or height, as written or after clipping -> ``zero-area``; a corner
    outside ``[0, 1]`` by at most ``tolerance`` -> ``clipped``; else ``ok``.

    Args:
        xyxyn: ``(N, 4)`` relative corners ``[x1, y1, x2, y2]``.
        wh: ``(N, 2)`` width and height as the file wrote them (relative), for formats that
            write sizes (YOLO, COCO, Label Studio, predictions): their sign is checked before
            any conversion could hide it. None: taken from the corners.
        tolerance: how far outside ``[0, 1]`` a corner may be and still be clipped.

    Returns:
        A :class:`GeometryCheck`.
    """
    b = np.asarray(xyxyn, dtype=np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore", over="ignore"):  # inf / nan are verdicts, not warnings
        size = (b[:, 2:] - b[:, :2] if wh is None
                else np.asarray(wh, dtype=np.float64).reshape(-1, 2))
    finite = np.isfinite(b).all(axis=1) & np.isfinite(size).all(axis=1)
    with np.errstate(invalid="ignore"):
        negative = (size < 0).any(axis=1) | (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
        beyond = ((b < -tolerance) | (b > 1.0 + tolerance)).any(axis=1)
        outside = ((b < 0.0) | (b > 1.0)).any(axis=1)
        out = np.clip(b, 0.0, 1.0)
        empty = ((size == 0).any(axis=1) | (out[:, 2] <= out[:, 0])
                 | (out[:, 3] <= out[:, 1]))
    verdict = np.full(len(b), BOX_OK, dtype=np.int8)
    verdict[outside] = BOX_CLIPPED
    verdict[empty] = BOX_ZERO_AREA
    verdict[beyond] = BOX_OUTSIDE
    verdict[negative] = BOX_NEGATIVE_SIZE
    verdict[~finite] = BOX_NON_FINITE
    keep = verdict <= BOX_CLIPPED
    return GeometryCheck(verdict=verdict, boxes=np.where(keep[:, None], out, b))


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
