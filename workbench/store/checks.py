"""Store reads behind ``workbench check``: values spanning splits, boxes, unassigned images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.store import query, schema
from workbench.store.config import SPLITS

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def spanning_splits(ws: Workspace, key: str) -> list[dict[str, Any]]:
    """Values of sample field ``key`` shared by samples in more than one of train/val/test.

    One aggregation over the samples.

    Returns:
        ``[{"key": str, "splits": [sorted split names], "samples": [{"id", "filepath",
        "split"}, ...]}, ...]``, one entry per value that spans splits.
    """
    pipeline = [
        {"$match": {key: {"$ne": None}, schema.SPLIT: {"$in": list(SPLITS)}}},
        {"$group": {"_id": f"${key}", "splits": {"$addToSet": f"${schema.SPLIT}"},
                    "samples": {"$push": {"id": {"$toString": "$_id"}, "filepath": "$filepath",
                                          "split": f"${schema.SPLIT}"}}}},
        {"$match": {"splits.1": {"$exists": True}}},
    ]
    return [{"key": str(d["_id"]), "splits": sorted(d["splits"]), "samples": d["samples"]}
            for d in ws.samples.aggregate(pipeline, allowDiskUse=True)]


def ground_truth_boxes(ws: Workspace) -> dict[str, Any]:
    """The ground-truth boxes of samples that have any, as flat arrays.

    Returns:
        As :func:`workbench.store.query.box_arrays`: ``{"sample_index": (M,), "label": (M,),
        "xywhn": (M, 4), "ids": [N], "filepath": [N], "content_hash": [N]}``.
    """
    return query.box_arrays(ws, {f"{schema.GROUND_TRUTH}.detections.0": {"$exists": True}})


def count_labeled_without_split(ws: Workspace) -> int:
    """Labeled samples that have no split yet."""
    return int(ws.samples.count_documents({schema.STATUS: "labeled", schema.SPLIT: None}))
