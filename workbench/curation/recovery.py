"""``workbench recover``: roll back what a killed or crashed command left half-written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results import Result
from workbench.store import journal, lock
from workbench.store.workspace import Workspace


@dataclass
class RecoverResult(Result):
    """The operations rolled back (newest first); empty when there was nothing to do."""

    recovered: list[journal.Recovery] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"recovered": [{"operation", "command", "pid", "host", "started",
        "samples_restored", "samples_deleted", "fields_unset", "runs",
        "classes_restored"}, ...]}``."""
        return {"recovered": [r.to_dict() for r in self.recovered]}


def recover(ws: Workspace) -> RecoverResult:
    """Take the write lock, which rolls back every unfinished operation of a dead process.

    Raises:
        WorkspaceBusyError: a live process is writing the workspace (its operation is not
            interrupted; wait for it).
    """
    result = RecoverResult()
    with lock.hold(ws, report=result.recovered.append):
        pass
    return result
