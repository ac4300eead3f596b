"""Store reads behind ``workbench check``: values spanning splits, boxes, unassigned images."""

from __future__ import annotations

from dataclasses import dataclass
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


def _problems() -> dict[str, Any]:
    """The expression of a sample's consistency problems (a list of names, empty when none).

    A sample is consistent when its status is a known one, its tags hold its status and its
    split (and no other status or split name), a ``queued`` sample names its round, and a
    ``labeled`` one has ground truth and has left the pool.
    """
    from workbench.store.query import SPLIT_NAMES

    tags = {"$ifNull": ["$tags", []]}
    status, split = f"${schema.STATUS}", f"${schema.SPLIT}"
    others = {"$filter": {"input": tags, "cond": {"$and": [
        {"$in": ["$$this", [*schema.STATUSES, *SPLIT_NAMES]]},
        {"$not": [{"$in": ["$$this", [status, {"$ifNull": [split, ""]}]]}]}]}}}
    rules = {
        "unknown status": {"$not": [{"$in": [status, list(schema.STATUSES)]}]},
        "status tag missing": {"$not": [{"$in": [status, tags]}]},
        "split tag missing": {"$and": [{"$ne": [{"$ifNull": [split, None]}, None]},
                                       {"$not": [{"$in": [split, tags]}]}]},
        "tag of another status or split": {"$gt": [{"$size": others}, 0]},
        "queued without a round": {"$and": [
            {"$eq": [status, "queued"]},
            {"$eq": [{"$ifNull": [f"${schema.ROUND_SELECTED}", None]}, None]}]},
        "labeled but in the pool": {"$and": [{"$eq": [status, "labeled"]},
                                             {"$eq": [split, "pool"]}]},
        "labeled without ground truth": {"$and": [
            {"$eq": [status, "labeled"]},
            {"$eq": [{"$ifNull": [f"${schema.GROUND_TRUTH}", None]}, None]}]},
    }
    return {"$filter": {"input": [{"$cond": [cond, name, None]} for name, cond in rules.items()],
                        "cond": {"$ne": ["$$this", None]}}}


def _unique_string_hashes(ws: Workspace) -> bool:
    """Whether the store's unique index on the content hash (its string values) is there."""
    return any(info.get("unique") and [k for k, _ in info["key"]] == [schema.CONTENT_HASH]
               for info in ws.samples.index_information().values())


def _duplicates_branch(ws: Workspace, limit: int) -> list[dict[str, Any]]:
    """Pipeline of content hashes held by more than one sample. With the workspace's unique
    index on string hashes in place only other values can repeat, so only those are grouped
    (not one group per image of a 1M-image store)."""
    match: dict[str, Any] = {"$nin": [None, ""]}
    if _unique_string_hashes(ws):
        match["$not"] = {"$type": "string"}
    return [{"$match": {schema.CONTENT_HASH: match}},
            {"$group": {"_id": f"${schema.CONTENT_HASH}", "n": {"$sum": 1},
                        "paths": {"$push": "$filepath"}}},
            {"$match": {"n": {"$gt": 1}}}, {"$limit": limit}]


def _duplicates(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"content_hash": d["_id"], "samples": d["n"], "filepaths": d["paths"][:5]}
            for d in docs]


@dataclass
class SampleScan:
    """What :func:`scan_samples` finds in one pass over the samples.

    Attributes:
        inconsistent_count: samples whose status, split, tags, round and ground truth
            disagree; ``inconsistent``: up to ``limit`` of them, ``{"id", "filepath",
            "problems": [str]}``.
        duplicate_hashes: content hashes held by more than one sample (up to ``limit``).
        classes: per-class counts, as :func:`workbench.store.query.class_counts`.
    """

    inconsistent_count: int
    inconsistent: list[dict[str, Any]]
    duplicate_hashes: list[dict[str, Any]]
    classes: dict[str, dict[str, Any]]


def scan_samples(ws: Workspace, limit: int = 20) -> SampleScan:
    """Inconsistent samples, repeated content hashes and the class counts, in one ``$facet``
    aggregation: a 1M-image store is read once for the three."""
    flagged = {"$match": {"_wb_problems.0": {"$exists": True}}}
    reply = next(ws.samples.aggregate([
        {"$addFields": {"_wb_problems": _problems()}},
        {"$facet": {"count": [flagged, {"$count": "n"}],
                    "examples": [flagged, {"$limit": limit},
                                 {"$project": {"filepath": 1, "_wb_problems": 1}}],
                    "duplicates": _duplicates_branch(ws, limit),
                    **query.class_facets()}}], allowDiskUse=True))
    return SampleScan(
        inconsistent_count=int(reply["count"][0]["n"]) if reply["count"] else 0,
        inconsistent=[{"id": str(d["_id"]), "filepath": d.get("filepath"),
                       "problems": d["_wb_problems"]} for d in reply["examples"]],
        duplicate_hashes=_duplicates(reply["duplicates"]),
        classes=query.classes_of(reply))


def duplicate_hashes(ws: Workspace, limit: int = 20) -> list[dict[str, Any]]:
    """Content hashes held by more than one sample (the same image stored twice)."""
    return _duplicates(list(ws.samples.aggregate(_duplicates_branch(ws, limit),
                                                 allowDiskUse=True)))
