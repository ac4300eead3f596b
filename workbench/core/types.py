"""Core data types: dataclasses of numpy arrays, validated once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass
class Predictions:
    """Detections of many images as flat arrays.

    Attributes:
        xyxy: ``(M, 4)`` relative corners ``[x1, y1, x2, y2]`` in ``[0, 1]``.
        confidence: ``(M,)`` detection scores.
        class_id: ``(M,)`` class index into the class list.
        image_index: ``(M,)`` index of each box's image, ascending.
        class_probs: ``(M, C)`` full class-score vector per box, or None.
    """

    xyxy: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float64]
    class_id: npt.NDArray[np.int64]
    image_index: npt.NDArray[np.int64]
    class_probs: npt.NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        self.image_index = np.asarray(self.image_index, dtype=np.int64).reshape(-1)
        m = len(self.xyxy)
        for name in ("confidence", "class_id", "image_index"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, xyxy has {m}")
        if m and np.any(np.diff(self.image_index) < 0):
            raise ValueError("image_index must be ascending (sort boxes by image)")
        if self.class_probs is not None:
            self.class_probs = np.asarray(self.class_probs, dtype=np.float64)
            if self.class_probs.ndim != 2 or len(self.class_probs) != m:
                raise ValueError(f"class_probs must be (M, C) with M={m}, got "
                                 f"{self.class_probs.shape}")

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls, n_classes: int | None = None) -> Predictions:
        """No boxes."""
        probs = None if n_classes is None else np.zeros((0, n_classes))
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   probs)
