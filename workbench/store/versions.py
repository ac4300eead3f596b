"""Label versions: the state of every sample a label change touched, kept for undo.

Before a change writes, the previous ground truth, status, split, tags and round of each
touched sample are saved under the change's id together with a fingerprint of what the
change writes. Undo restores the saved state, but only where the sample still holds what
the change wrote (a later change must be undone first).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pymongo import IndexModel, InsertOne, UpdateOne

from workbench.errors import WorkbenchError
from workbench.store import connection, journal, query, schema

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

COLLECTION = "workbench_label_versions"
SAVED = journal.SAMPLE_FIELDS
_CHUNK = 5000


def fingerprint(detections: dict[str, Any] | None) -> str:
    """A hash of a Detections document's labels and boxes (ids and attributes ignored)."""
    dets = (detections or {}).get("detections") if detections is not None else None
    rows = None if dets is None else [[d.get("label"), d.get("bounding_box")] for d in dets]
    return hashlib.sha1(json.dumps(rows).encode()).hexdigest()


def collection(ws: Workspace) -> Any:
    """The versions collection (indexed by :func:`ensure_index`)."""
    return ws.db[COLLECTION]


def ensure_index(ws: Workspace) -> None:
    """Index the versions collection by change and sample (before a change: index builds
    cannot run inside a transaction)."""
    collection(ws).create_indexes(
        [IndexModel([("change_id", 1), ("sample_id", 1)], name="change_sample")],
        **connection.index_options(ws.db))


def save(ws: Workspace, change_id: str, before: list[dict[str, Any]], after: list[str]) -> None:
    """Save the pre-change state of samples (after :func:`ensure_index`).

    Args:
        ws: the workspace.
        change_id: the import (or other change) id.
        before: ``K`` sample documents holding ``_id`` and the :data:`SAVED` fields.
        after: ``K`` fingerprints of the ground truth the change writes.
    """
    coll = collection(ws)
    journal.saved_by_versions(ws, change_id, [doc["_id"] for doc in before])
    ops = [InsertOne({"change_id": change_id, "dataset": ws.config.name, "sample_id": doc["_id"],
                      "before": {k: doc.get(k) for k in SAVED}, "after": fp})
           for doc, fp in zip(before, after, strict=True)]
    for start in range(0, len(ops), _CHUNK):
        coll.bulk_write(ops[start:start + _CHUNK], ordered=False)


def saved(ws: Workspace, change_id: str) -> list[dict[str, Any]]:
    """The saved states of a change."""
    return list(collection(ws).find({"change_id": change_id, "dataset": ws.config.name}))


def forget(ws: Workspace, change_id: str) -> None:
    """Delete the saved states of a change (one that was rolled back)."""
    collection(ws).delete_many({"change_id": change_id, "dataset": ws.config.name})


def changes_touching(ws: Workspace, sample_ids: list[Any]) -> list[str]:
    """Ids of the changes that touched any of ``sample_ids``."""
    ids: list[str] = collection(ws).distinct("change_id", {"sample_id": {"$in": sample_ids},
                                                           "dataset": ws.config.name})
    return ids


def restore(ws: Workspace, states: list[dict[str, Any]], check: bool = True) -> int:
    """Put samples back to their saved states.

    Args:
        ws: the workspace.
        states: documents from :func:`saved`.
        check: refuse (and write nothing) where a sample no longer holds what the change
            wrote.

    Returns:
        The number of samples restored.

    Raises:
        WorkbenchError: ``check`` found samples changed since (named, with the way out).
    """
    ids = [s["sample_id"] for s in states]
    current = {d["_id"]: d for d in ws.samples.find({"_id": {"$in": ids}},
                                                     {schema.GROUND_TRUTH: 1})}
    if check:
        moved_on = [s["sample_id"] for s in states if s["sample_id"] in current
                    and fingerprint(current[s["sample_id"]].get(schema.GROUND_TRUTH)) != s["after"]]
        if moved_on:
            raise WorkbenchError(
                f"{len(moved_on)} samples changed after this import (e.g. {moved_on[0]}); "
                "undo the later imports that touched them first, newest first: "
                + ", ".join(c for c in changes_touching(ws, moved_on)
                            if c != states[0]["change_id"]))
    journal.updating(ws, [s["sample_id"] for s in states if s["sample_id"] in current])
    now = query.now()
    ops = [UpdateOne({"_id": s["sample_id"]},
                     {"$set": {**s["before"], "last_modified_at": now}})
           for s in states if s["sample_id"] in current]
    for start in range(0, len(ops), _CHUNK):
        ws.samples.bulk_write(ops[start:start + _CHUNK], ordered=False)
    return len(ops)
