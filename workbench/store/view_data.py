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
