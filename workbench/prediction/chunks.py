"""Store one chunk of a prediction run: class order, TTA passes, fusion, calibration, scores.

Whatever engine produced a chunk, :func:`store_chunk` turns it into what the run stores and
writes it with :func:`~workbench.store.predictions.write_predictions` (one bulk write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.calibration import Calibrator
from workbench.core.types import Predictions
from workbench.prediction.tta import fuse
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import predictions

if TYPE_CHECKING:
    from workbench.prediction.predict import PredictConfig
    from workbench.store.workspace import Workspace


def store_chunk(ws: Workspace, run: str, config: PredictConfig, part_ids: list[Any],
                 preds: Predictions, emb: np.ndarray | None,
                 members: list[Predictions] | None,
                 calibrator: Calibrator | None) -> dict[str, Any]:
    """Fuse, calibrate, score and write one chunk (``preds`` in workspace class order).

    Args:
        members: the TTA passes' boxes of the chunk (None without TTA).
        calibrator: the confidence map, or None.

    Returns:
        What :func:`~workbench.store.predictions.write_predictions` returns.
    """
    per_box: dict[str, np.ndarray] | None = None
    tta_boxes, tta_scores = None, None
    if members is not None:
        members = [preds, *members]
        tta_boxes, tta_scores = tta_merge(members, len(part_ids))
        if config.fuse:
            preds, agreement = fuse(members, config.fuse_method, config.fuse_iou)
            per_box = {"agreement": agreement}
    if calibrator is not None:
        preds, raw = calibrate(preds, calibrator)
        per_box = (per_box or {}) | {"raw_confidence": raw}
    scores = image_scores(preds, len(part_ids), tta=tta_scores)
    return predictions.write_predictions(ws, run, part_ids, preds, ws.classes, scores=scores,
                                         indexed=indexed_keys(scores), embeddings=emb,
                                         tta=tta_boxes, per_box=per_box,
                                         display_conf=config.display_conf)


def calibrate(preds: Predictions, calibrator: Calibrator) -> tuple[Predictions, np.ndarray]:
    """``preds`` with calibrated confidences and class vectors, and the ``(M,)`` raw
    confidences."""
    raw = preds.confidence.copy()
    preds.confidence = calibrator.apply(raw, preds.class_id)
    if preds.class_probs is not None:
        preds.class_probs = calibrator.apply_probs(preds.class_probs)
    return preds, raw


def to_workspace(preds: Predictions, lut: np.ndarray, n_classes: int) -> Predictions:
    """``preds`` with class ids and class vectors in workspace class order.

    Args:
        preds: ``M`` boxes in the model's class order (``class_probs (M, C_model)``).
        lut: ``(C_model,)`` workspace index of each model class.
        n_classes: ``C``, the workspace's class count.

    Returns:
        The same boxes, ``class_id`` mapped and ``class_probs (M, C)`` (zeros for classes the
        model does not have).
    """
    preds.class_id = lut[preds.class_id]
    if preds.class_probs is not None:
        full = np.zeros((len(preds), n_classes))
        full[:, lut] = preds.class_probs
        preds.class_probs = full
    return preds


def tta_merge(members: list[Predictions], n_images: int
         ) -> tuple[tuple[Predictions, np.ndarray], np.ndarray]:
    """The boxes of every pass (the plain pass first) of ``n_images`` images, merged.

    Returns:
        ``(boxes of all passes, (M',) pass id per box)``, by image, and the ``(N,)``
        disagreement of the passes with the plain one.
    """
    from workbench.core.agreement import disagreement

    scores = disagreement([(p.xyxy, p.class_id, p.image_index) for p in members], n_images)
    pass_id = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(members)])
    order = np.argsort(np.concatenate([p.image_index for p in members]), kind="stable")
    merged = Predictions(np.concatenate([p.xyxy for p in members])[order],
                         np.concatenate([p.confidence for p in members])[order],
                         np.concatenate([p.class_id for p in members])[order],
                         np.concatenate([p.image_index for p in members])[order])
    return (merged, pass_id[order]), scores
