"""``workbench runs``: the workspace's run records, one row each, oldest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.curation.config import RunsConfig
from workbench.store import runs
from workbench.store.workspace import Workspace


@dataclass
class RunsResult:
    """The listed runs.

    Attributes:
        rows: one per run: ``{"run", "kind", "status", "started_at", "seconds", "epochs",
            "map50"}`` (what ``workbench runs --json`` prints, as a list).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"runs": rows}``."""
        return {"runs": self.rows}


def list_runs(ws: Workspace, config: RunsConfig | None = None) -> RunsResult:
    """The workspace's runs (ingests, splits, trainings, ...), oldest first.

    Args:
        ws: the workspace.
        config: which kind (default: all).
    """
    config = config or RunsConfig()
    docs = runs.list_runs(ws, config.kind)
    return RunsResult([{"run": d["_id"], "kind": d["kind"], "status": d.get("status", "completed"),
                        "started_at": d.get("started_at"), "seconds": d.get("seconds"),
                        "epochs": len(d.get("epochs") or []) or None,
                        "map50": (d.get("outputs") or {}).get("map50")} for d in docs])
