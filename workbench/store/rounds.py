"""Store reads of the loop's real rounds: reusable models, the pool, per-round counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.store import schema
from workbench.store.runs import RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def reusable_train_run(ws: Workspace, label_hash: str) -> dict[str, Any] | None:
    """The latest completed training run whose labels hash to ``label_hash``."""
    doc: dict[str, Any] | None = ws.runs.find_one(
        {"dataset": ws.config.name, "kind": RunKind.TRAIN.value, "status": "completed",
         "inputs.label_hash": label_hash}, sort=[("started_at", -1)])
    return doc


def has_unlabeled_pool(ws: Workspace) -> bool:
    """Whether the pool has an unlabeled image left."""
    return ws.samples.find_one({schema.STATUS: "unlabeled", schema.SPLIT: "pool"},
                               {"_id": 1}) is not None


def status_by_round(ws: Workspace) -> dict[str, dict[str, int]]:
    """Samples per status of every selection round, ``{round: {status: n}}`` (one
    aggregation)."""
    counts: dict[str, dict[str, int]] = {}
    for doc in ws.samples.aggregate([
            {"$match": {schema.ROUND_SELECTED: {"$ne": None}}},
            {"$group": {"_id": {"round": f"${schema.ROUND_SELECTED}",
                                "status": f"${schema.STATUS}"}, "n": {"$sum": 1}}}]):
        counts.setdefault(doc["_id"]["round"], {})[doc["_id"]["status"]] = int(doc["n"])
    return counts


def count_labeled(ws: Workspace) -> int:
    """The number of labeled samples."""
    return int(ws.samples.count_documents({schema.STATUS: "labeled"}))
