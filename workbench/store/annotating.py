"""Store reads and writes of the annotation capability: packages, imports, pushes.

Sample ids cross this boundary as hex strings or as the opaque raw ids these functions
return; the callers never see a query document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from workbench.store import query, schema, versions
from workbench.store.runs import RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


@dataclass
class PackageSamples:
    """Samples of a package, sorted by id.

    Attributes:
        ids: ``N`` raw sample ids.
        sample_ids: ``N`` hex ids.
        filepaths: ``N`` image paths.
        content_hash: ``N`` sha256 of the image bytes ("" when unknown).
        width, height: ``N`` image sizes in pixels (0 when unknown).
    """

    ids: list[Any]
    sample_ids: list[str]
    filepaths: list[str]
    content_hash: list[str]
    width: list[int]
    height: list[int]


def round_match(round_name: str) -> dict[str, Any]:
    """The filter of the samples a selection round selected."""
    return {schema.ROUND_SELECTED: round_name}


def raw_ids(sample_ids: Sequence[str]) -> list[Any]:
    """Raw sample ids (ObjectId) of hex ids, for the functions taking raw ids."""
    return [ObjectId(s) for s in sample_ids]


def package_samples(ws: Workspace, match: dict[str, Any]) -> PackageSamples:
    """Path, hash and size of the samples matching ``match`` (one query, sorted by id)."""
    docs = list(ws.samples.find(match, {"filepath": 1, schema.CONTENT_HASH: 1,
                                        "metadata.width": 1, "metadata.height": 1}).sort("_id", 1))
    metas = [d.get("metadata") or {} for d in docs]
    return PackageSamples(
        ids=[d["_id"] for d in docs], sample_ids=[str(d["_id"]) for d in docs],
        filepaths=[d["filepath"] for d in docs],
        content_hash=[d.get(schema.CONTENT_HASH) or "" for d in docs],
        width=[int(m.get("width") or 0) for m in metas],
        height=[int(m.get("height") or 0) for m in metas])


def mark_in_annotation(ws: Workspace, ids: list[Any]) -> None:
    """Unlabeled and queued samples become ``in_annotation``; labeled ones stay labeled
    (they are being reviewed, and keep training until new labels are imported)."""
    labeled = {"$eq": ["$" + schema.STATUS, "labeled"]}
    query.update_ids(ws, ids, [{"$set": {
        schema.STATUS: {"$cond": [labeled, "labeled", "in_annotation"]},
        "last_modified_at": query.now(),
        "tags": {"$cond": [labeled, "$tags",
                           query.retag(list(schema.STATUSES), ["in_annotation"])]}}}])


def import_states(ws: Workspace, ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """The current state of samples an import may change, by raw id (missing ones absent).

    Each document holds ``_id``, ``filepath``, the content hash, ``last_modified_at`` and
    the fields :mod:`workbench.store.versions` saves.
    """
    return {d["_id"]: d for d in ws.samples.find(
        {"_id": {"$in": ids}},
        {schema.CONTENT_HASH: 1, "last_modified_at": 1, "filepath": 1,
         **{k: 1 for k in versions.SAVED}})}


def ground_truth_boxes(ws: Workspace, ids: list[Any]) -> dict[str, Any]:
    """Ground-truth box arrays of samples by raw id (see :func:`query.box_arrays`)."""
    return query.box_arrays(ws, {"_id": {"$in": ids}})


def earlier_import(ws: Workspace, digest: str) -> str | None:
    """The latest completed, not undone import of the same answers that changed images."""
    doc = ws.runs.find_one({"dataset": ws.config.name, "kind": RunKind.ANNOTATE_IMPORT.value,
                            "outputs.digest": digest, "outputs.images": {"$gt": 0},
                            "status": "completed", "undone_by": None},
                           sort=[("started_at", -1)])
    return str(doc["_id"]) if doc else None


def latest_push(ws: Workspace, url: str, title: str) -> dict[str, Any] | None:
    """The latest push record for a server and project title."""
    doc: dict[str, Any] | None = ws.runs.find_one(
        {"dataset": ws.config.name, "kind": RunKind.ANNOTATE_PUSH.value, "params.url": url,
         "params.project": title}, sort=[("started_at", -1)])
    return doc
