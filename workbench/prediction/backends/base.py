"""The Predictor interface and the post-processing every backend shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.nms import decode_yolo
from workbench.core.types import Predictions
from workbench.media.preprocess import load_batch

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

    def _decode_batch(self, x: np.ndarray, boxes: list[Any], sizes: list[tuple[int, int]],
                      chunk: list[str], start: int, options: PredictOptions, embeddings: bool,
                      transform: Transform | None, acc: tuple[list[np.ndarray], ...]) -> None:
        """Run one letterboxed batch ``(B, 3, S, S)`` and append its boxes to ``acc``
        (``xyxy, conf, cls, probs, index, emb`` lists)."""
        xyxy, conf, cls, probs, index, emb = acc
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
        n_classes = len(self.names)
        if not paths:
            return Predictions.empty(n_classes), None
        acc: tuple[list[np.ndarray], ...] = ([], [], [], [], [], [])
        xyxy, conf, cls, probs, index, emb = acc
        image = None if transform is None else transform.image
        starts = list(range(0, len(paths), options.batch))
        with ThreadPoolExecutor(1) as prefetch:  # decode batch i + 1 while batch i runs
            pending = prefetch.submit(load_batch, paths[:options.batch], self.imgsz,
                                      transform=image)
            for n, start in enumerate(starts):
                chunk = paths[start:start + options.batch]
                x, boxes, sizes = pending.result()
                if n + 1 < len(starts):
                    nxt = starts[n + 1]
                    pending = prefetch.submit(load_batch, paths[nxt:nxt + options.batch],
                                              self.imgsz, transform=image)
                self._decode_batch(x, boxes, sizes, chunk, start, options, embeddings,
                                   transform, acc)
        if not xyxy:
            return Predictions.empty(n_classes), None
        rel = np.concatenate(xyxy)  # in the frame of the transformed images
        preds = Predictions(rel if transform is None else transform.inverse(rel),
                            np.concatenate(conf), np.concatenate(cls),
                            np.concatenate(index),
                            np.concatenate(probs).reshape(-1, n_classes))
        return preds, (np.concatenate(emb) if emb else None)
