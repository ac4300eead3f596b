"""Library calls of ``workbench db``: a MongoDB replica set on this machine for workspaces.

``start_replset`` / ``stop_replset`` / ``replset_status`` wrap
:mod:`workbench.store.replset` (the processes) and return results whose ``to_dict()`` is the
commands' ``--json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkspaceError
from workbench.store import replset


@dataclass
class ReplSetResult:
    """A replica set: its URI, members and their states."""

    set: replset.ReplicaSet
    states: dict[int, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The connection string for ``workbench init --database-uri``."""
        return self.set.uri

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``uri``, ``pids``, ``ports``, ``members``, ``states`` …"""
        return self.set.to_dict() | {"states": [self.states.get(m.index)
                                                for m in self.set.members]}


@dataclass
class StopResult:
    """What ``db stop`` stopped."""

    directory: Path
    stopped: list[int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"directory": str(self.directory), "stopped": self.stopped}


def start_replset(directory: str | Path, members: int = 3, name: str = replset.DEFAULT_NAME,
                  cache_gb: float = replset.DEFAULT_CACHE_GB) -> ReplSetResult:
    """Start a replica set in ``directory`` (or restart the members of the one there that are
    down) and wait until it has a primary and every member is up."""
    rs = replset.start(Path(directory), members=members, name=name, cache_gb=cache_gb)
    return ReplSetResult(rs, replset.member_states(rs))


def stop_replset(directory: str | Path, timeout: float = 30.0) -> StopResult:
    """Stop the replica set in ``directory`` (idempotent)."""
    return StopResult(Path(directory), replset.stop(Path(directory), timeout=timeout))


def replset_status(directory: str | Path) -> ReplSetResult:
    """The members of the replica set in ``directory`` and their states.

    Raises:
        WorkspaceError: no replica set there.
    """
    rs = replset.read(Path(directory).expanduser().resolve())
    if rs is None:
        raise WorkspaceError(f"no replica set in {directory} (no {replset.STATE_FILE}); start "
                             f"one with `workbench db start-replset {directory}`")
    return ReplSetResult(rs, replset.member_states(rs))
