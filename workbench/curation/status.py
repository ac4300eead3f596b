"""``workbench status``: what the workspace holds, counted by source, split, status and class,
its selection rounds and its latest runs; :func:`status_markdown` renders it for people."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from workbench.store import journal, lock, query, rounds, runs, schema
from workbench.store.workspace import Workspace

#: ``{"samples": int, "boxes": int}`` per value of a field.
Counts = dict[str, dict[str, int]]

#: How many runs of each kind :attr:`StatusResult.recent_runs` lists.
RECENT_RUNS = 3
#: The outputs a run's key metric is read from, first present wins (``map50`` of a training or
#: an evaluation, ``selected`` of a round, ``added`` of an ingest, ``samples`` of a prediction).
METRIC_KEYS = ("map50", "selected", "added", "imported", "samples", "restored", "moved")


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
        split_status: split -> status -> samples (the cross table).
        round_progress: one row per selection round, oldest first: ``{"round", "strategy",
            "model_run", "started_at", "selected", "unlabeled", "queued", "in_annotation",
            "labeled"}`` (``selected``: as recorded by the round; the rest: its images now).
        recent_runs: run kind -> its latest :data:`RECENT_RUNS` runs, newest first:
            ``{"run", "kind", "status", "started_at", "seconds", "metric", "value"}``
            (``metric``: the name of the key metric in :data:`METRIC_KEYS`, or None).
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
    split_status: dict[str, dict[str, int]] = field(default_factory=dict)
    round_progress: list[dict[str, Any]] = field(default_factory=list)
    recent_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the keys of ``workbench status --json``)."""
        return {"workspace": self.workspace, "dataset": self.dataset, "database": self.database,
                "samples": self.samples, "boxes": self.boxes, "splits": self.splits,
                "status": self.status, "sources": self.sources, "classes": self.classes,
                "rounds": self.rounds, "runs": self.runs, "running": self.running,
                "split_status": self.split_status, "round_progress": self.round_progress,
                "recent_runs": self.recent_runs}

    def __getitem__(self, key: str) -> Any:
        """``result["splits"]``: the JSON dict's entries (as ``wb.status(ws)[...]`` reads)."""
        return self.to_dict()[key]


def workspace_status(ws: Workspace) -> StatusResult:
    """Counts of samples and boxes per source, split, status and class, the rounds, the runs.

    Raises:
        InterruptedOperationError: a killed command left an operation to roll back first.
    """
    running = [journal.describe(d) for d in lock.require_recovered(ws, "status")]
    keys = [schema.SPLIT, schema.STATUS, schema.SOURCE, schema.ROUND_SELECTED]
    cells, counted = query.workspace_counts(ws, keys)  # one pass over the samples
    splits = query.fold(cells, schema.SPLIT)
    statuses = query.fold(cells, schema.STATUS)
    sources = query.fold(cells, schema.SOURCE)
    rounds = {k: v for k, v in query.fold(cells, schema.ROUND_SELECTED).items() if k != "none"}
    classes = {c: counted.get(c, {"boxes": 0, "images": 0, "by_split": {}}) for c in ws.classes}
    for c in sorted(set(counted) - set(ws.classes)):
        classes[c] = counted[c]
    docs = runs.list_runs(ws)
    kinds: dict[str, int] = {}
    for r in docs:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    split_status: dict[str, dict[str, int]] = {}
    for state in schema.STATUSES:
        by_split = query.fold(cells, schema.SPLIT, {schema.STATUS: state})
        for split_name, counts in by_split.items():
            split_status.setdefault(split_name, {})[state] = counts["samples"]
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
        split_status=dict(sorted(split_status.items())),
        round_progress=_round_progress(ws, docs),
        recent_runs=_recent_runs(docs),
    )


def _when(value: Any) -> str | None:
    """A run's timestamp as ISO text (UTC, seconds)."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat()
    return None if value is None else str(value)


def _round_progress(ws: Workspace, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per selection round (oldest first): what it selected and where its images are now."""
    by_round = rounds.status_by_round(ws)
    rows: list[dict[str, Any]] = []
    for d in docs:
        if d["kind"] != runs.RunKind.SELECT.value:
            continue
        name = str(d["_id"])
        counts = by_round.pop(name, {})
        outputs, params = d.get("outputs") or {}, d.get("params") or {}
        rows.append({"round": name, "strategy": params.get("strategy"),
                     "model_run": outputs.get("model_run"),
                     "started_at": _when(d.get("started_at")),
                     "selected": int(outputs.get("selected", sum(counts.values()))),
                     **{state: counts.get(state, 0) for state in schema.STATUSES}})
    for name, counts in sorted(by_round.items()):  # images of a round without its record
        rows.append({"round": name, "strategy": None, "model_run": None, "started_at": None,
                     "selected": sum(counts.values()),
                     **{state: counts.get(state, 0) for state in schema.STATUSES}})
    return rows


def _recent_runs(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The latest :data:`RECENT_RUNS` runs of each kind, newest first (``docs``: oldest first)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for d in reversed(docs):
        rows = out.setdefault(str(d["kind"]), [])
        if len(rows) >= RECENT_RUNS:
            continue
        outputs = d.get("outputs") or {}
        metric = next((k for k in METRIC_KEYS if isinstance(outputs.get(k), int | float)
                       and not isinstance(outputs.get(k), bool)), None)
        rows.append({"run": str(d["_id"]), "kind": str(d["kind"]),
                     "status": d.get("status", "completed"),
                     "started_at": _when(d.get("started_at")), "seconds": d.get("seconds"),
                     "metric": metric, "value": outputs.get(metric) if metric else None})
    return dict(sorted(out.items()))


def status(ws: Workspace) -> dict[str, Any]:
    """:func:`workspace_status` as its JSON dict (what ``workbench status --json`` prints).

    Returns:
        ``{"workspace", "dataset", "database", "samples", "boxes", "splits", "status",
        "sources", "classes", "rounds", "runs", "running", "split_status", "round_progress",
        "recent_runs"}`` (see :class:`StatusResult`); each count entry is
        ``{"samples": int, "boxes": int}`` (classes: ``{"boxes", "images", "by_split"}``).
    """
    return workspace_status(ws).to_dict()


def status_markdown(result: StatusResult) -> str:
    """The status as a Markdown document (for the App and ``workbench status --markdown``).

    Tables: splits × status, sources, classes (boxes per split), rounds, runs (latest per
    kind).
    """
    lines = [f"# Workspace `{result.dataset}`", "",
             f"{result.samples} samples, {result.boxes} ground-truth boxes · "
             f"`{result.workspace}` · {result.database}", ""]
    lines += [f"> **In progress:** {_cell(c)} is writing the workspace; these counts may "
              "change when it finishes." for c in result.running]
    statuses = list(schema.STATUSES)
    lines += ["## Splits × status", "",
              *_table(["split", *statuses, "samples", "boxes"],
                      [[name, *(result.split_status.get(name, {}).get(s, 0) for s in statuses),
                        row["samples"], row["boxes"]] for name, row in result.splits.items()]),
              "", "## Sources", "",
              *_table(["source", "samples", "boxes"],
                      [[name, row["samples"], row["boxes"]]
                       for name, row in result.sources.items()])]
    splits = [s for s in query.SPLIT_NAMES if s != "pool"]
    lines += ["", "## Classes", "",
              *_table(["class", "images", "boxes", *splits],
                      [[name, row["images"], row["boxes"],
                        *((row.get("by_split") or {}).get(s, {}).get("boxes", 0) for s in splits)]
                       for name, row in result.classes.items()])]
    lines += ["", "## Rounds", ""]
    if result.round_progress:
        lines += _table(["round", "strategy", "model run", "selected", "queued", "in annotation",
                         "labeled", "back in pool", "started"],
                        [[r["round"], r["strategy"], r["model_run"], r["selected"], r["queued"],
                          r["in_annotation"], r["labeled"], r["unlabeled"], r["started_at"]]
                         for r in result.round_progress])
    else:
        lines.append("No selection round yet: `workbench select --uncertain N`.")
    lines += ["", "## Runs", ""]
    if result.recent_runs:
        lines += _table(["kind", "runs", "run", "status", "started", "seconds", "key metric"],
                        [[kind if k == 0 else "", result.runs.get(kind, 0) if k == 0 else "",
                          r["run"], r["status"], r["started_at"], _number(r["seconds"]),
                          f"{r['metric']} {_number(r['value'])}" if r["metric"] else ""]
                         for kind, rows in result.recent_runs.items()
                         for k, r in enumerate(rows)])
    else:
        lines.append("No runs yet: `workbench ingest DIR --format yolo`.")
    return "\n".join(lines) + "\n"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return "" if value is None else str(value)


def _cell(value: Any) -> str:
    """A table cell: text with its pipes escaped and no line breaks."""
    text = _number(value) if isinstance(value, float) else ("–" if value is None else str(value))
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (numbers right-aligned)."""
    numeric = [bool(rows) and all(isinstance(r[i], int | float) or r[i] == "" for r in rows)
               for i in range(len(header))]
    return ["| " + " | ".join(header) + " |",
            "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)]
