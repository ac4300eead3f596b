"""Bulk reads into numpy: labeled images with their class sets, box arrays, grouped counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from workbench.store import journal, schema

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

SPLIT_NAMES = ("train", "val", "test", "pool")


@dataclass
class LabeledTable:
    """Labeled samples as arrays.

    Attributes:
        ids: ``(N,)`` sample ids (ObjectId objects).
        split: ``(N,)`` current split name or "" when unassigned.
        group: ``(N,)`` group key as a string, "" when none.
        classes: ``(N, C)`` bool, image contains class ``c`` of the class list.
    """

    ids: list[Any]
    split: npt.NDArray[np.str_]
    group: npt.NDArray[np.str_]
    classes: npt.NDArray[np.bool_]


def labeled_table(ws: Workspace, class_names: list[str],
                  group_by: str = schema.GROUP) -> LabeledTable:
    """Read every labeled sample's id, split, group and classes in one query."""
    cursor = ws.samples.find(
        {schema.STATUS: "labeled"},
        {"_id": 1, schema.SPLIT: 1, group_by: 1, f"{schema.GROUND_TRUTH}.detections.label": 1},
    )
    index = {c: k for k, c in enumerate(class_names)}
    ids: list[Any] = []
    splits: list[str] = []
    groups: list[str] = []
    rows: list[int] = []
    cols: list[int] = []
    for n, doc in enumerate(cursor):
        ids.append(doc["_id"])
        splits.append(doc.get(schema.SPLIT) or "")
        g = doc.get(group_by)
        groups.append("" if g is None else str(g))
        dets = ((doc.get(schema.GROUND_TRUTH) or {}).get("detections")) or []
        for label in {d.get("label") for d in dets}:
            if label in index:
                rows.append(n)
                cols.append(index[label])
    matrix = np.zeros((len(ids), len(class_names)), dtype=bool)
    matrix[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = True
    return LabeledTable(ids, np.asarray(splits, dtype=str), np.asarray(groups, dtype=str), matrix)


def retag(remove: list[str], add: list[str]) -> dict[str, Any]:
    """Update-pipeline expression: the sample's tags without ``remove``, plus ``add``."""
    kept = {"$filter": {"input": {"$ifNull": ["$tags", []]},
                        "cond": {"$not": [{"$in": ["$$this", remove]}]}}}
    return {"$setUnion": [kept, add]}


def now() -> dt.datetime:
    """The timestamp FiftyOne stores in ``last_modified_at`` (naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def update_ids(ws: Workspace, ids: list[Any], update: Any, chunk: int = 50_000) -> int:
    """``update_many`` over samples by id, in chunks that keep each query small.

    Their ground truth, status, split, tags and round are saved first in the operation
    journal (:mod:`workbench.store.journal`).
    """
    journal.updating(ws, ids)
    modified = 0
    for start in range(0, len(ids), chunk):
        res = ws.samples.update_many({"_id": {"$in": ids[start:start + chunk]}}, update)
        modified += int(res.modified_count)
    return modified


def set_split(ws: Workspace, ids: list[Any], split: str) -> int:
    """Set ``split`` on samples and make their split tag mirror it (one update)."""
    return update_ids(ws, ids, [{"$set": {schema.SPLIT: split, "last_modified_at": now(),
                                          "tags": retag(list(SPLIT_NAMES), [split])}}])


def box_arrays(ws: Workspace, match: dict[str, Any] | None = None,
               field: str = schema.GROUND_TRUTH, attrs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Boxes of a Detections field of matching samples as flat arrays, samples sorted by id.

    Args:
        ws: the workspace.
        match: sample filter.
        field: the Detections field.
        attrs: numeric per-box attributes to read as well (``("confidence",)``); missing
            values are NaN.

    Returns:
        ``{"sample_index": (M,), "label": (M,), "xywhn": (M, 4), "ids": [N ids],
        "filepath": [N paths], "content_hash": [N hashes]}`` plus ``(M,)`` per attribute.
    """
    cursor = ws.samples.find(match or {}, {"_id": 1, "filepath": 1, schema.CONTENT_HASH: 1,
                                           f"{field}.detections.label": 1,
                                           f"{field}.detections.bounding_box": 1,
                                           **{f"{field}.detections.{a}": 1 for a in attrs}}
                             ).sort("_id", 1)
    ids: list[Any] = []
    paths: list[str] = []
    hashes: list[str] = []
    index: list[int] = []
    labels: list[str] = []
    boxes: list[list[float]] = []
    extra: dict[str, list[float]] = {a: [] for a in attrs}
    for n, doc in enumerate(cursor):
        ids.append(doc["_id"])
        paths.append(doc.get("filepath", ""))
        hashes.append(doc.get(schema.CONTENT_HASH) or "")
        for d in ((doc.get(field) or {}).get("detections")) or []:
            index.append(n)
            labels.append(d.get("label") or "")
            bb = d.get("bounding_box") or [np.nan] * 4
            boxes.append(bb if len(bb) == 4 else [np.nan] * 4)
            for a, values in extra.items():
                v = d.get(a)
                values.append(np.nan if v is None else float(v))
    return {
        **{a: np.asarray(v, dtype=np.float64) for a, v in extra.items()},
        "ids": ids,
        "filepath": paths,
        "content_hash": hashes,
        "sample_index": np.asarray(index, dtype=np.int64),
        "label": np.asarray(labels, dtype=str),
        "xywhn": np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
    }


def grouped_counts(ws: Workspace, key: str, match: dict[str, Any] | None = None
                   ) -> dict[str, dict[str, int]]:
    """Samples and boxes per value of ``key`` (None shown as "none") among the samples
    matching ``match``, via one aggregation."""
    pipeline: list[dict[str, Any]] = [{"$match": match}] if match else []
    pipeline += [
        {"$group": {
            "_id": f"${key}",
            "samples": {"$sum": 1},
            "boxes": {"$sum": {"$size": {"$ifNull": [f"${schema.GROUND_TRUTH}.detections", []]}}},
        }},
    ]
    return fold([Cell({key: d["_id"]}, int(d["samples"]), int(d["boxes"]))
                 for d in ws.samples.aggregate(pipeline)], key)


def class_facets() -> dict[str, list[dict[str, Any]]]:
    """``$facet`` branches: per (label, split) the boxes, and the images holding the label
    (each image's labels made distinct first: no set of ids per group)."""
    labels = f"${schema.GROUND_TRUTH}.detections.label"

    def per(det: Any) -> list[dict[str, Any]]:
        return [{"$match": {f"{schema.GROUND_TRUTH}.detections.0": {"$exists": True}}},
                {"$project": {"s": f"${schema.SPLIT}", "d": det}},
                {"$unwind": "$d"},
                {"$group": {"_id": {"label": "$d", "split": "$s"}, "n": {"$sum": 1}}}]

    return {"boxes": per(labels), "images": per({"$setUnion": [labels]})}


def classes_of(facets: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The per-class counts of the :func:`class_facets` branches of one ``$facet`` reply."""
    out: dict[str, dict[str, Any]] = {}
    for kind in ("boxes", "images"):
        for doc in facets[kind]:
            label, n = doc["_id"]["label"], int(doc["n"])
            split = doc["_id"].get("split") or "unassigned"
            entry = out.setdefault(label, {"boxes": 0, "images": 0, "by_split": {}})
            entry[kind] += n
            entry["by_split"].setdefault(split, {"boxes": 0, "images": 0})[kind] = n
    return out


def class_counts(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Per class: boxes, images, and boxes and images per split (one pass over the samples)."""
    reply = next(ws.samples.aggregate([{"$facet": class_facets()}], allowDiskUse=True))
    return classes_of(reply)


@dataclass(frozen=True)
class Cell:
    """Samples and ground-truth boxes of one combination of values (:func:`workspace_counts`)."""

    values: dict[str, Any]
    samples: int
    boxes: int


def workspace_counts(ws: Workspace, keys: list[str]
                     ) -> tuple[list[Cell], dict[str, dict[str, Any]]]:
    """Samples and boxes per combination of ``keys``' values, and :func:`class_counts`, in
    one pass over the samples (one ``$facet`` aggregation: a 1M-image store is read once,
    not once per count).

    Returns:
        The cells (a missing value is None), and the per-class counts.
    """
    facets = class_facets() | {"cells": [{"$group": {
        "_id": {k: f"${k}" for k in keys}, "samples": {"$sum": 1},
        "boxes": {"$sum": {"$size": {"$ifNull": [f"${schema.GROUND_TRUTH}.detections", []]}}},
    }}]}
    reply = next(ws.samples.aggregate([{"$facet": facets}], allowDiskUse=True))
    cells = [Cell({k: d["_id"].get(k) for k in keys}, int(d["samples"]), int(d["boxes"]))
             for d in reply["cells"]]
    return cells, classes_of(reply)


def fold(cells: list[Cell], key: str, where: dict[str, Any] | None = None
         ) -> dict[str, dict[str, int]]:
    """Samples and boxes per value of ``key`` (None shown as "none") over the cells whose
    values equal ``where``'s: :func:`grouped_counts` from :func:`workspace_counts`' cells."""
    out: dict[str, dict[str, int]] = {}
    for cell in cells:
        if where and any(cell.values.get(k) != v for k, v in where.items()):
            continue
        value = cell.values.get(key)
        entry = out.setdefault("none" if value is None else str(value),
                               {"samples": 0, "boxes": 0})
        entry["samples"] += cell.samples
        entry["boxes"] += cell.boxes
    return dict(sorted(out.items()))
