"""Write model predictions into ``pred_<run>`` fields in bulk (plain documents, no fo objects)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
from bson import ObjectId
from pymongo import UpdateOne

_FIELD_RE = re.compile(r"[^A-Za-z0-9_]")


def field_name(prefix: str, run: str) -> str:
    """A valid sample field name such as ``pred_train_20261123``."""
    return f"{prefix}_{_FIELD_RE.sub('_', run)}"


def ensure_detections_field(dataset: Any, name: str) -> None:
    """Declare ``name`` as a Detections field (idempotent)."""
    import fiftyone as fo

    if name not in dataset.get_field_schema():
        dataset.add_sample_field(name, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)


def write_predictions(
    ws: Any,
    field: str,
    sample_ids: list[Any],
    image_index: npt.NDArray[np.int64],
    labels: list[str],
    xywhn: npt.NDArray[np.float64],
    confidence: npt.NDArray[np.float64],
) -> int:
    """Set ``field`` on each sample from flat box arrays in one ``bulk_write``.

    Args:
        ws: the workspace.
        field: the Detections field (declared with :func:`ensure_detections_field`).
        sample_ids: ``N`` sample ObjectIds.
        image_index: ``(M,)`` index into ``sample_ids`` of each box, ascending.
        labels: ``M`` class names; ``xywhn``: ``(M, 4)``; ``confidence``: ``(M,)``.

    Returns:
        The number of boxes written.
    """
    ensure_detections_field(ws.dataset, field)
    starts = np.searchsorted(image_index, np.arange(len(sample_ids)), side="left").tolist()
    ends = np.searchsorted(image_index, np.arange(len(sample_ids)), side="right").tolist()
    boxes = xywhn.tolist()
    conf = confidence.tolist()
    ops = []
    for n, sid in enumerate(sample_ids):
        dets = [{"_id": ObjectId(), "_cls": "Detection", "attributes": {}, "tags": [],
                 "label": labels[k], "bounding_box": boxes[k], "confidence": conf[k]}
                for k in range(starts[n], ends[n])]
        ops.append(UpdateOne({"_id": sid},
                             {"$set": {field: {"_cls": "Detections", "detections": dets}}}))
    if ops:
        ws.samples.bulk_write(ops, ordered=False)
    return len(labels)
