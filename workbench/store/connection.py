"""One database connection per process, configured from the workspace before fiftyone connects.

FiftyOne keeps a single global MongoDB client per process, so the target must be set before
the first query and a process can use one database; workspaces that share an external
``database_uri`` can be opened side by side in one process. The embedded database is a
per-workspace mongod run by :mod:`workbench.store.mongod`, reached through its URI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkspaceError

_ENV_DEFAULTS = {
    "FIFTYONE_DO_NOT_TRACK": "true",
    "FIFTYONE_DATABASE_VALIDATION": "false",
    "FIFTYONE_SHOW_PROGRESS_BARS": "false",
}


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a workspace's data lives: an external URI, or an embedded data directory."""

    uri: str | None
    directory: Path | None

    def describe(self) -> str:
        """Human-readable form for messages (URI credentials hidden)."""
        if self.uri:
            _, sep, tail = self.uri.rpartition("@")
            return f"mongodb://***@{tail}" if sep else self.uri
        return f"embedded mongod in {self.directory}"


_current: DatabaseTarget | None = None


def quiet_environment() -> None:
    """Environment defaults that keep fiftyone offline and quiet (callers can override)."""
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def connect(target: DatabaseTarget) -> Any:
    """Point fiftyone at ``target`` (once per process) and return the pymongo database.

    Raises:
        WorkspaceError: the process is already connected elsewhere, or mongod cannot be reached.
    """
    global _current
    if _current is not None and _current != target:
        raise WorkspaceError(
            f"this process already uses the database {_current.describe()}; it cannot also open "
            f"{target.describe()}. Open the other workspace in a new process (each CLI command "
            "is one), or give both workspaces the same --database-uri"
        )
    quiet_environment()
    if _current is None:
        if target.uri:
            uri = target.uri
        else:
            assert target.directory is not None
            from workbench.store import mongod

            uri = mongod.ensure_running(target.directory)
        os.environ["FIFTYONE_DATABASE_URI"] = uri
        import fiftyone as fo

        fo.config.database_uri = uri
        fo.config.database_validation = False
        fo.config.do_not_track = True
        fo.config.show_progress_bars = False
    import fiftyone.core.odm.database as fod

    try:
        db = fod.get_db_conn()
        db.command("ping")
    except Exception as exc:  # pymongo raises many kinds; all mean "cannot reach"
        raise WorkspaceError(
            f"cannot reach the database ({target.describe()}): {exc}. For an external MongoDB "
            "check the URI and that the server runs; for the embedded one check that the "
            "environment has mongod (make env)"
        ) from exc
    _current = target
    return db


def current() -> DatabaseTarget | None:
    """The database this process is connected to, if any."""
    return _current
