"""Which samples of a view already hold a prediction field (``predict --resume`` skips them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.store.views import view_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def predicted_ids(ws: Workspace, view: str, field: str) -> set[Any]:
    """Ids of the samples of view spec ``view`` that have ``field`` (one query, ids only).

    Args:
        ws: the workspace.
        view: a view spec (:mod:`workbench.store.views`).
        field: a sample field such as ``pred_<run>``.
    """
    return {d["_id"] for d in ws.samples.find(_holding(view, field), {"_id": 1})}


def predicted_boxes(ws: Workspace, view: str, field: str) -> int:
    """Boxes of Detections field ``field`` on the samples of view spec ``view`` (one
    aggregation; what a resumed run already holds, counted from the store itself)."""
    reply = list(ws.samples.aggregate([
        {"$match": _holding(view, field)},
        {"$group": {"_id": None, "n": {"$sum": {"$size": {
            "$ifNull": [f"${field}.detections", []]}}}}}]))
    return int(reply[0]["n"]) if reply else 0


def _holding(view: str, field: str) -> dict[str, Any]:
    """The filter of the samples of view spec ``view`` that have ``field``."""
    match = view_match(view)
    has = {field: {"$exists": True}}
    return {"$and": [match, has]} if match else has
