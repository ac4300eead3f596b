"""The Predictor interface and the post-processing every backend shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.nms import decode_yolo
from workbench.core.types import Predictions
from workbench.prediction.backends.preprocess import load_batch

if TYPE_CHECKING:
    from workbench.prediction.tta import Transform


@dataclass(frozen=True)
class PredictOptions:
    """Post-processing settings.

    Attributes:
        conf: minimum best-class score; ``iou``: NMS IoU; ``max_det``: boxes per image.
        batch: images per forward pass.
    """

    conf: float = 0.01
    iou: float = 0.7
    max_det: int = 300
    batch: int = 16


class Predictor(ABC):
    """A detector: images in, :class:`Predictions` (with class vectors) and embeddings out."""

    #: class names in output order
    names: list[str]
    #: square input size in pixels
    imgsz: int

    @abstractmethod
    def forward(self, batch: np.ndarray, embeddings: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw head output ``(B, 4 + C, A)`` and, if asked, pooled features ``(B, D)``."""

    def predict(self, paths: list[str], options: PredictOptions, embeddings: bool = False,
                transform: Transform | None = None) -> tuple[Predictions, np.ndarray | None]:
        """Detect on image files; boxes relative to each image, class vectors kept.

        Args:
            paths: image files.
            options: post-processing settings.
            embeddings: also return pooled features.
            transform: a TTA pass's image transform, applied to each decoded image before
                letterboxing; the boxes are mapped back to the original image with its
                exact inverse.

        Returns:
            The predictions (``image_index`` into ``paths``) and ``(N, D)`` embeddings or None.
        """
        xyxy, conf, cls, probs, index, emb = [], [], [], [], [], []
        for start in range(0, len(paths), options.batch):
            chunk = paths[start:start + options.batch]
            x, boxes, sizes = load_batch(chunk, self.imgsz,
                                         transform=None if transform is None else transform.image)
            out, feats = self.forward(x, embeddings)
            if feats is not None:
                emb.append(feats)
            for k in range(len(chunk)):
                b, c, k_cls, p = decode_yolo(out[k], options.conf, options.iou, options.max_det)
                w, h = sizes[k]  # of the transformed image
                xyxy.append(boxes[k].to_image(b, w, h))
                conf.append(c)
                cls.append(k_cls)
                probs.append(p)
                index.append(np.full(len(c), start + k, dtype=np.int64))
        n_classes = len(self.names)
        if not xyxy:
            return Predictions.empty(n_classes), None
        rel = np.concatenate(xyxy)  # in the frame of the transformed images
        preds = Predictions(rel if transform is None else transform.inverse(rel),
                            np.concatenate(conf), np.concatenate(cls),
                            np.concatenate(index),
                            np.concatenate(probs).reshape(-1, n_classes))
        return preds, (np.concatenate(emb) if emb else None)
