"""``workbench status``: what the workspace holds, counted by source, split, status and class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.store import journal, lock, query, runs, schema
from workbench.store.workspace import Workspace

#: ``{"samples": int, "boxes": int}`` per value of a field.
Counts = dict[str, dict[str, int]]


@dataclass
class StatusResult:
    """What the workspace holds.

    Attributes:
        workspace: the workspace folder; ``dataset``: its dataset name; ``database``: where.
        samples: all samples; ``boxes``: all ground-truth boxes.
        splits, status, sources: value -> ``{"samples", "boxes"}``.
        classes: class -> ``{"boxes", "images", "by_split": split -> {"boxes", "images"}}``,
            the class list first, then labels outside it.
        rounds: selection round -> ``{"samples", "boxes"}``.
        runs: run kind -> number of runs.
        running: the commands writing the workspace right now (their counts may be
            half-way).
    """

    workspace: str
    dataset: str
    database: str
    samples: int
    boxes: int
    splits: Counts
    status: Counts
    sources: Counts
    classes: dict[str, dict[str, Any]]
    rounds: Counts
    runs: dict[str, int]
    running: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the keys of ``workbench status --json``)."""
        return {"workspace": self.workspace, "dataset": self.dataset, "database": self.database,
                "samples": self.samples, "boxes": self.boxes, "splits": self.splits,
                "status": self.status, "sources": self.sources, "classes": self.classes,
                "rounds": self.rounds, "runs": self.runs, "running": self.running}

    def __getitem__(self, key: str) -> Any:
        """``result["splits"]``: the JSON dict's entries (as ``wb.status(ws)[...]`` reads)."""
        return self.to_dict()[key]


def workspace_status(ws: Workspace) -> StatusResult:
    """Counts of samples and boxes per source, split, status and class, and the rounds.

    Raises:
        InterruptedOperationError: a killed command left an operation to roll back first.
    """
    running = [journal.describe(d) for d in lock.require_recovered(ws, "status")]
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
    return StatusResult(
        workspace=str(ws.root),
        dataset=ws.config.name,
        database=ws.target.describe(),
        samples=sum(v["samples"] for v in statuses.values()),
        boxes=sum(v["boxes"] for v in statuses.values()),
        splits=splits,
        status=statuses,
        sources=sources,
        classes=classes,
        rounds=rounds,
        runs=kinds,
        running=running,
    )


def status(ws: Workspace) -> dict[str, Any]:
    """:func:`workspace_status` as its JSON dict (what ``workbench status --json`` prints).

    Returns:
        ``{"workspace", "dataset", "database", "samples", "boxes", "splits", "status",
        "sources", "classes", "rounds", "runs", "running"}``; each count entry is
        ``{"samples": int, "boxes": int}`` (classes: ``{"boxes", "images", "by_split"}``).
    """
    return workspace_status(ws).to_dict()
