"""A view's image files and ground-truth boxes as plain lists and arrays (no FiftyOne objects)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.store import query
from workbench.store.views import labeled_match, view_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def view_filepaths(ws: Workspace, view: str, labeled: bool = True) -> list[str]:
    """The ``filepath`` of every sample of ``view``, in sample-id order (one query).

    Args:
        ws: the workspace.
        view: a view spec (:mod:`workbench.store.views`).
        labeled: only ``status=labeled`` samples of the view.

    Raises:
        ConfigError: the view spec is invalid.
    """
    match = labeled_match(view) if labeled else view_match(view)
    return [d["filepath"] for d in ws.samples.find(match, {"filepath": 1}).sort("_id", 1)]


def labeled_boxes(ws: Workspace, view: str) -> dict[str, Any]:
    """Ground-truth boxes of the labeled samples of ``view`` (see :func:`query.box_arrays`).

    Raises:
        ConfigError: the view spec is invalid.
    """
    return query.box_arrays(ws, labeled_match(view))


def provenance(ws: Workspace, filepaths: list[str]) -> dict[str, list[Any]]:
    """Sample id, source and group of each of ``filepaths`` (one query; unknown paths: None).

    Returns:
        ``{"sample_ids": [N] hex ids, "sources": [N], "groups": [N]}`` in ``filepaths`` order.
    """
    from workbench.store import schema

    docs = {d["filepath"]: d for d in ws.samples.find(
        {"filepath": {"$in": filepaths}}, {"filepath": 1, schema.SOURCE: 1, schema.GROUP: 1})}
    rows = [docs.get(p) or {} for p in filepaths]
    return {"sample_ids": [str(r["_id"]) if "_id" in r else None for r in rows],
            "sources": [r.get(schema.SOURCE) for r in rows],
            "groups": [r.get(schema.GROUP) for r in rows]}


def labeled_rows(ws: Workspace, view: str) -> dict[str, Any]:
    """The labeled samples of ``view`` with their ground truth, split, group and image size
    (what a dataset export writes; two queries, no FiftyOne objects).

    Returns:
        :func:`query.box_arrays`' arrays (``sample_index`` ``(M,)``, ``label`` ``(M,)``,
        ``xywhn`` ``(M, 4)``, ``ids``, ``filepath``, ``content_hash`` ``[N]``) plus
        ``split``, ``group``, ``source_id`` ``[N]`` (None where unset) and ``width``,
        ``height`` ``[N]`` pixels from the metadata (None where unknown).

    Raises:
        ConfigError: the view spec is invalid.
    """
    from workbench.store import schema

    match = labeled_match(view)
    data = query.box_arrays(ws, match)
    docs = {d["_id"]: d for d in ws.samples.find(
        match, {schema.SPLIT: 1, schema.GROUP: 1, schema.SOURCE_ID: 1, "metadata.width": 1,
                "metadata.height": 1})}
    rows = [docs.get(i) or {} for i in data["ids"]]
    meta = [r.get("metadata") or {} for r in rows]
    data.update(split=[r.get(schema.SPLIT) for r in rows],
                group=[r.get(schema.GROUP) for r in rows],
                source_id=[r.get(schema.SOURCE_ID) for r in rows],
                width=[m.get("width") for m in meta], height=[m.get("height") for m in meta])
    return data


#: Sample fields that carry a source's license and attribution (FathomNet, Hugging Face ...).
LICENSE, ATTRIBUTION = "license", "attribution"


def attributions(ws: Workspace, view: str | dict[str, Any]) -> list[dict[str, Any]]:
    """The distinct license / attribution pairs of the samples of ``view`` (a view spec or a
    MongoDB filter) that carry one, with how many images each covers (one aggregation), most
    images first. Annotation packages and device exports carry them.

    Returns:
        ``[{"license": str | None, "attribution": str | None, "images": int}, ...]``.

    Raises:
        ConfigError: the view spec is invalid.
    """
    match = view_match(view) if isinstance(view, str) else view
    has = {"$or": [{LICENSE: {"$nin": [None, ""]}}, {ATTRIBUTION: {"$nin": [None, ""]}}]}
    pipeline: list[dict[str, Any]] = [
        {"$match": {"$and": [match, has]} if match else has},
        {"$group": {"_id": {"license": f"${LICENSE}", "attribution": f"${ATTRIBUTION}"},
                    "images": {"$sum": 1}}},
        {"$sort": {"images": -1, "_id.license": 1, "_id.attribution": 1}}]
    return [{"license": d["_id"].get("license"), "attribution": d["_id"].get("attribution"),
             "images": int(d["images"])} for d in ws.samples.aggregate(pipeline)]
