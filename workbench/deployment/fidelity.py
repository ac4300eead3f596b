"""How close an exported model stays to the FP32 ONNX, measured on real validation images.

Output fidelity compares the raw head outputs ``(4 + C, A)`` of both models on the same
letterboxed inputs (cosine similarity over everything, largest absolute difference);
detection accuracy decodes both with the same numpy post-processing and scores mAP50 against
the view's ground truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.boxes import xywhn_to_xyxyn
from workbench.core.detmetrics import map_at
from workbench.deployment.rawhead import MapsPredictor
from workbench.prediction.api import PredictOptions, Predictor, load_batch
from workbench.store.view_data import labeled_boxes
from workbench.store.workspace import Workspace

if TYPE_CHECKING:
    from workbench.core.types import Predictions


@dataclass
class ValSet:
    """A validation view's images and ground truth (relative corners, class ids)."""

    paths: list[str]
    image: np.ndarray
    xyxy: np.ndarray
    cls: np.ndarray

    @classmethod
    def load(cls, ws: Workspace, view: str, limit: int | None = None) -> ValSet:
        boxes = labeled_boxes(ws, view)
        index = {c: k for k, c in enumerate(ws.classes)}
        keep = np.ones(len(boxes["label"]), dtype=bool)
        paths = boxes["filepath"]
        if limit is not None and len(paths) > limit:
            paths = paths[:limit]
            keep = boxes["sample_index"] < limit
        return cls(list(paths), boxes["sample_index"][keep],
                   xywhn_to_xyxyn(boxes["xywhn"][keep]),
                   np.array([index.get(str(x), -1) for x in boxes["label"][keep]],
                            dtype=np.int64))


def predict_val(model: Predictor, val: ValSet) -> tuple[Predictions, float]:
    """``model``'s detections on ``val`` down to confidence 0.01 (one image per forward
    pass), and the seconds that took."""
    options = PredictOptions(conf=0.01, iou=0.7, max_det=100, batch=1)
    start = time.perf_counter()
    preds, _ = model.predict(val.paths, options)
    return preds, time.perf_counter() - start


def map50_of(preds: Predictions, val: ValSet, n_classes: int) -> float:
    """mAP50 of detections of :func:`predict_val` against ``val``'s ground truth."""
    map50, _ = map_at(preds.image_index, preds.xyxy, preds.confidence, preds.class_id,
                      val.image, val.xyxy, val.cls, n_classes)
    return round(map50, 5)


def accuracy(model: Predictor, val: ValSet, n_classes: int) -> dict[str, float]:
    """mAP50 and host latency of ``model`` on ``val`` (one image per forward pass)."""
    preds, seconds = predict_val(model, val)
    return {"map50": map50_of(preds, val, n_classes),
            "seconds_per_image": seconds / max(len(val.paths), 1)}


def output_fidelity(reference: Predictor, candidate: Predictor, paths: list[str],
                    batch: int = 1, raw: bool = False) -> dict[str, Any]:
    """Cosine similarity and max abs error of the outputs over ``paths``.

    ``raw``: compare the head's raw per-level maps (device exports, both models
    :class:`~workbench.deployment.rawhead.MapsPredictor`) instead of the decoded output.
    """
    dot = ref_sq = cand_sq = 0.0
    max_abs = 0.0
    for start in range(0, len(paths), batch):
        x, _, _ = load_batch(paths[start:start + batch], reference.imgsz)
        a64, b64 = _flat(reference, x, raw), _flat(candidate, x, raw)
        dot += float(a64 @ b64)
        ref_sq += float(a64 @ a64)
        cand_sq += float(b64 @ b64)
        max_abs = max(max_abs, float(np.abs(a64 - b64).max(initial=0.0)))
    cosine = dot / max(np.sqrt(ref_sq * cand_sq), 1e-12)
    return {"cosine": round(cosine, 6), "max_abs": round(max_abs, 6), "images": len(paths)}


def _flat(model: Predictor, x: np.ndarray, raw: bool) -> np.ndarray:
    if raw:
        if not isinstance(model, MapsPredictor):
            raise TypeError("raw fidelity compares MapsPredictors")
        return np.concatenate([m.astype(np.float64).ravel() for m in model.maps(x)])
    out, _ = model.forward(x, embeddings=False)
    return out.astype(np.float64).ravel()
