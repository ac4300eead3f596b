"""``workbench status``: what the workspace holds, counted by source, split, status and class."""

from __future__ import annotations

from typing import Any

from workbench.store import query, runs, schema
from workbench.store.workspace import Workspace


def status(ws: Workspace) -> dict[str, Any]:
    """Counts of samples and boxes per source, split, status and class, and the rounds.

    Returns:
        ``{"workspace", "dataset", "database", "samples", "boxes", "splits", "status",
        "sources", "classes", "rounds", "runs"}``; each count entry is
        ``{"samples": int, "boxes": int}`` (classes: ``{"boxes", "images", "by_split"}``).
    """
    splits = query.grouped_counts(ws, schema.SPLIT)
    statuses = query.grouped_counts(ws, schema.STATUS)
    sources = query.grouped_counts(ws, schema.SOURCE)
    rounds = {k: v for k, v in query.grouped_counts(ws, schema.ROUND_SELECTED).items()
              if k != "none"}
    counted = query.class_counts(ws)
    classes = {c: counted.get(c, {"boxes": 0, "images": 0, "by_split": {}}) for c in ws.classes}
    for c in sorted(set(counted) - set(ws.classes)):
        classes[c] = counted[c]
    kinds: dict[str, int] = {}
    for r in runs.list_runs(ws):
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    return {
        "workspace": str(ws.root),
        "dataset": ws.config.name,
        "database": ws.target.describe(),
        "samples": sum(v["samples"] for v in statuses.values()),
        "boxes": sum(v["boxes"] for v in statuses.values()),
        "splits": splits,
        "status": statuses,
        "sources": sources,
        "classes": classes,
        "rounds": rounds,
        "runs": kinds,
    }
