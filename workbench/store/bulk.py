"""Bulk reads and writes on the raw sample collection, in FiftyOne's document layout.

Documents are built as plain dicts (no ``fo.Sample`` / ``fo.Detection`` objects) and written
with one ``insert_many``; a failed write is rolled back by deleting what it inserted.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from bson import ObjectId

from workbench.core.boxes import xyxyn_to_xywhn
from workbench.core.segments import segments
from workbench.errors import WorkbenchError
from workbench.media.probe import ImageInfo
from workbench.media.records import ImageRecord
from workbench.store import datasets, journal, schema

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

_CHUNK = 20_000


def existing_hashes(ws: Workspace, hashes: Sequence[str]) -> set[str]:
    """Which of ``hashes`` the workspace's samples already have."""
    found: set[str] = set()
    coll = ws.samples
    for start in range(0, len(hashes), _CHUNK):
        chunk = list(hashes[start:start + _CHUNK])
        for doc in coll.find({schema.CONTENT_HASH: {"$in": chunk}}, {schema.CONTENT_HASH: 1}):
            found.add(doc[schema.CONTENT_HASH])
    return found


def object_ids(n: int) -> list[ObjectId]:
    """``n`` new ObjectIds, made in one go (``ObjectId()`` costs ~5 us each, one per box).

    The layout is MongoDB's: a 4-byte timestamp, 5 random bytes drawn for this call, and a
    3-byte counter from a random start, so ids of one call are distinct and ids of different
    calls and processes differ as ``ObjectId()``'s do.
    """
    if n <= 0:
        return []
    raw = np.empty((n, 12), dtype=np.uint8)
    raw[:, :4] = np.frombuffer(int(time.time()).to_bytes(4, "big"), dtype=np.uint8)
    raw[:, 4:9] = np.frombuffer(os.urandom(5), dtype=np.uint8)
    counter = (int.from_bytes(os.urandom(3), "big") + np.arange(n, dtype=np.int64)) & 0xFFFFFF
    raw[:, 9] = counter >> 16
    raw[:, 10] = (counter >> 8) & 0xFF
    raw[:, 11] = counter & 0xFF
    buf = raw.tobytes()
    return [ObjectId(buf[i:i + 12]) for i in range(0, 12 * n, 12)]


def detections_doc(labels: Sequence[str], xywhn: Sequence[list[float]],
                   ids: Sequence[ObjectId] | None = None,
                   **per_box: Sequence[Any]) -> dict[str, Any]:
    """A FiftyOne ``Detections`` document from ``K`` labels and ``K`` ``[x, y, w, h]`` boxes.

    ``ids``: the ``K`` box ids (default: new ones). ``per_box`` adds one attribute per box
    from ``K``-long columns (``confidence=...``, ``class_probs=...``).
    """
    dets = []
    ids = object_ids(len(labels)) if ids is None else ids
    for k, (label, box) in enumerate(zip(labels, xywhn, strict=True)):
        det = {"_id": ids[k], "_cls": "Detection", "attributes": {}, "tags": [],
               "label": label, "bounding_box": box}
        for key, column in per_box.items():
            det[key] = column[k]
        dets.append(det)
    return {"_cls": "Detections", "detections": dets}


def sample_tags(split: str | None, status: str) -> list[str]:
    """Tags mirroring split and status, for browsing in the App."""
    return [t for t in (split, status) if t]


def insert_samples(
    ws: Workspace,
    records: list[ImageRecord],
    infos: list[ImageInfo],
    batch_index: npt.NDArray[np.int64],
    box_image: npt.NDArray[np.int64],
    box_label: npt.NDArray[np.str_],
    box_xyxyn: npt.NDArray[np.float64],
    source: str,
    run_id: str,
    tags: tuple[str, ...] = (),
) -> int:
    """Write new samples with their ground truth in one bulk insert.

    Args:
        ws: the workspace.
        records: ``K`` image records to write; ``infos``: their probe results.
        batch_index: ``(K,)`` index of each record in the parsed batch (what ``box_image``
            refers to), ascending.
        box_image: ``(M,)`` batch index of each box, sorted ascending.
        box_label: ``(M,)`` class names; ``box_xyxyn``: ``(M, 4)`` clipped relative corners.
        source: provenance name; ``run_id``: the ingest run.
        tags: further tags of every new sample (``negative`` for known negatives).

    Returns:
        The number of boxes written.
    """
    dataset_id = ObjectId(datasets.dataset_id(ws))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    starts, ends = segments(box_image, batch_index)
    xywhn = xyxyn_to_xywhn(box_xyxyn).tolist()
    labels = box_label.tolist()
    rand = np.random.default_rng().random(len(records)).tolist()
    docs = []
    boxes = 0
    for k, (rec, info) in enumerate(zip(records, infos, strict=True)):
        status = "labeled" if rec.labeled else "unlabeled"
        split = rec.split if rec.labeled else "pool"
        gt = None
        if rec.labeled:
            s, e = starts[k], ends[k]
            gt = detections_doc(labels[s:e], xywhn[s:e])
            boxes += e - s
        doc = {
            "_id": ObjectId(),
            "filepath": str(rec.path),
            "tags": [*sample_tags(split, status), *tags],
            "_media_type": "image",
            "_rand": rand[k],
            "_dataset_id": dataset_id,
            "created_at": now,
            "last_modified_at": now,
            "metadata": {"_cls": "ImageMetadata", "size_bytes": info.size_bytes,
                         "mime_type": info.mime_type, "width": info.width,
                         "height": info.height, "num_channels": info.num_channels},
            schema.SOURCE: source,
            schema.SOURCE_ID: rec.source_id,
            schema.CONTENT_HASH: info.sha256,
            schema.GROUP: rec.group,
            schema.SPLIT: split,
            schema.STATUS: status,
            schema.GROUND_TRUTH: gt,
            schema.ROUND_SELECTED: None,
            schema.INGEST_RUN: run_id,
        }
        doc.update(rec.fields)
        docs.append(doc)
    journal.inserting(ws, schema.INGEST_RUN, run_id)
    insert_documents(ws, docs)
    return boxes


def insert_documents(ws: Workspace, docs: list[dict[str, Any]]) -> None:
    """``insert_many`` all-or-nothing: on failure, delete what was inserted and raise."""
    from pymongo.errors import ConnectionFailure, PyMongoError

    coll = ws.samples
    try:
        for start in range(0, len(docs), _CHUNK):
            coll.insert_many(docs[start:start + _CHUNK], ordered=True)
    except PyMongoError as exc:
        if isinstance(exc, ConnectionFailure):
            raise  # the database is gone: the operation journal's recovery deletes them
        coll.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        raise WorkbenchError(
            f"writing {len(docs)} samples failed and was rolled back ({exc}); the workspace is "
            "unchanged. If another ingest ran at the same time, re-run this one"
        ) from exc
