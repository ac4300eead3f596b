"""Ground-truth writes of annotation imports: one conditioned bulk write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo import UpdateOne

from workbench.errors import WorkbenchError
from workbench.store import journal, query, schema

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

_CHUNK = 5000


def write_ground_truth(ws: Workspace, before: list[dict[str, Any]],
                       docs: list[dict[str, Any]]) -> None:
    """Set new ground truth and ``status=labeled`` on samples, in one ordered bulk write.

    Args:
        ws: the workspace.
        before: ``K`` sample documents as read before the change (``_id``, ``tags``,
            ``last_modified_at``).
        docs: ``K`` Detections documents to write.

    Raises:
        WorkbenchError: a sample changed since ``before`` was read (the caller rolls back).
    """
    journal.updating(ws, [b["_id"] for b in before])
    now = query.now()
    ops = []
    for b, doc in zip(before, docs, strict=True):
        tags = [t for t in (b.get("tags") or []) if t not in schema.STATUSES] + ["labeled"]
        ops.append(UpdateOne(
            {"_id": b["_id"], "last_modified_at": b.get("last_modified_at")},
            {"$set": {schema.GROUND_TRUTH: doc, schema.STATUS: "labeled", "tags": tags,
                      "last_modified_at": now}}))
    matched = 0
    for start in range(0, len(ops), _CHUNK):
        matched += ws.samples.bulk_write(ops[start:start + _CHUNK], ordered=True).matched_count
    if matched != len(ops):
        raise WorkbenchError(f"{len(ops) - matched} samples changed while importing (another "
                             "command wrote to them); the import was rolled back, run it again")
