"""Labeled subsets of ``ssl compare``: a tag on the chosen samples, so a training run can
read the subset as the view ``tag:NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.store import query

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def tag_subset(ws: Workspace, ids: list[Any], tag: str) -> int:
    """Add ``tag`` to samples ``ids`` (journaled, one update per chunk); returns how many."""
    return query.update_ids(ws, ids, {"$addToSet": {"tags": tag}})


def untag_subset(ws: Workspace, ids: list[Any], tag: str) -> int:
    """Remove ``tag`` from samples ``ids`` again."""
    return query.update_ids(ws, ids, {"$pull": {"tags": tag}})
