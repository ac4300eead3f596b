"""Sample lookups of the SSL capability: the files of recorded sample ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def files_of(ws: Workspace, ids: list[str]) -> tuple[list[Any], list[str]]:
    """Ids and file paths of the samples with these hex ids that still exist, sorted by id
    (one query)."""
    docs = ws.samples.find({"_id": {"$in": [ObjectId(i) for i in ids]}},
                           {"_id": 1, "filepath": 1}).sort("_id", 1)
    rows = [(d["_id"], d["filepath"]) for d in docs]
    return [r[0] for r in rows], [r[1] for r in rows]
