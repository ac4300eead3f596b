"""Letterbox geometry shared by every backend (resize keeping aspect, pad to a square).

Matches Ultralytics' ``LetterBox(auto=False, scaleup=True, center=True)`` with padding value
114: the scale is ``min(S / h, S / w)``, the resized size is rounded, and padding is split
evenly (the odd pixel at the bottom/right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Letterbox:
    """How an image of ``(width, height)`` maps into a ``size`` x ``size`` input."""

    scale: float
    new_w: int
    new_h: int
    left: int
    top: int
    size: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        """The letterbox of a ``width`` x ``height`` image in a ``size`` square."""
        r = min(size / height, size / width)
        new_w, new_h = round(width * r), round(height * r)
        dw, dh = (size - new_w) / 2, (size - new_h) / 2
        left, top = round(dw - 0.1), round(dh - 0.1)
        return cls(r, new_w, new_h, left, top, size)

    def to_image(self, xyxy: npt.ArrayLike, width: int, height: int) -> npt.NDArray[np.float64]:
        """Input-pixel corners ``(K, 4)`` -> relative image corners, clipped to ``[0, 1]``."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4).copy()
        b[:, [0, 2]] = (b[:, [0, 2]] - self.left) / self.scale / width
        b[:, [1, 3]] = (b[:, [1, 3]] - self.top) / self.scale / height
        return np.asarray(np.clip(b, 0.0, 1.0))
