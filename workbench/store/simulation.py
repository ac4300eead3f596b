"""Store reads and writes of the loop's simulations: copying the source's samples into a
simulation dataset, queueing the initial set, checking rounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

from workbench.store import bulk, query, schema, views
from workbench.store.datasets import dataset_id

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: Sample fields copied from the source into a simulation dataset.
COPIED = ("filepath", "_media_type", "_rand", "metadata", "created_at", "last_modified_at",
          schema.SOURCE, schema.SOURCE_ID, schema.CONTENT_HASH, schema.GROUP, schema.INGEST_RUN)


def labeled_ids(ws: Workspace, view: str) -> list[Any]:
    """Raw ids of the labeled samples of view ``view``, sorted."""
    return [d["_id"] for d in ws.samples.find(views.labeled_match(view), {"_id": 1})
            .sort("_id", 1)]


def has_labeled(ws: Workspace, view: str) -> bool:
    """Whether view ``view`` has a labeled sample."""
    return ws.samples.find_one(views.labeled_match(view), {"_id": 1}) is not None


def ground_truth_of(ws: Workspace, ids: list[Any]) -> dict[str, Any]:
    """Ground-truth box arrays of samples by raw id (see :func:`query.box_arrays`)."""
    return query.box_arrays(ws, {"_id": {"$in": ids}})


def copy_samples(src: Workspace, ws: Workspace, val: str, pool_ids: list[Any]) -> None:
    """Fill the (empty) simulation dataset of ``ws`` from ``src`` in one bulk insert.

    The labeled samples of ``src``'s view ``val`` that are not in the pool come as labeled
    validation images; the pool samples come as unlabeled pool images without labels.
    """
    ds_id = ObjectId(dataset_id(ws))
    docs = []
    pool = set(pool_ids)
    fields = {f: 1 for f in (*COPIED, schema.GROUND_TRUTH, schema.SPLIT)}
    for d in src.samples.find(views.labeled_match(val), fields):
        if d["_id"] in pool:
            continue
        docs.append({**d, "_dataset_id": ds_id, schema.STATUS: "labeled",
                     schema.SPLIT: "val", "tags": ["val", "labeled"],
                     schema.ROUND_SELECTED: None})
    for d in src.samples.find({"_id": {"$in": pool_ids}}, {f: 1 for f in COPIED}):
        docs.append({**d, "_dataset_id": ds_id, schema.STATUS: "unlabeled",
                     schema.SPLIT: "pool", "tags": ["pool", "unlabeled"],
                     schema.GROUND_TRUTH: None, schema.ROUND_SELECTED: None})
    bulk.insert_documents(ws, docs)


def round_started(ws: Workspace, round_name: str) -> bool:
    """Whether any sample was selected in round ``round_name``."""
    return ws.samples.find_one({schema.ROUND_SELECTED: round_name}, {"_id": 1}) is not None


def unlabeled_in_round(ws: Workspace, round_name: str) -> int:
    """Samples of round ``round_name`` not labeled yet."""
    return int(ws.samples.count_documents({schema.ROUND_SELECTED: round_name,
                                           schema.STATUS: {"$ne": "labeled"}}))


def labeled_per_round(ws: Workspace) -> dict[str, dict[str, int]]:
    """Labeled samples and their ground-truth boxes per selection round (one aggregation;
    see :func:`query.grouped_counts`)."""
    return query.grouped_counts(ws, schema.ROUND_SELECTED, {schema.STATUS: "labeled"})
