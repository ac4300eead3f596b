"""The curation capability's public surface: init, status, runs, split, check, recover.

Each verb takes the workspace (``init``: the folder) and its config dataclass and returns a
result with ``to_dict()``, the command's JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from workbench.curation.checking import CheckResult, run_check
from workbench.curation.config import (
    RUN_KINDS,
    CheckConfig,
    InitConfig,
    RunsConfig,
    SplitConfig,
)
from workbench.curation.initialize import InitResult, init
from workbench.curation.recovery import RecoverResult
from workbench.curation.recovery import recover as _recover
from workbench.curation.replica import replset_status, start_replset, stop_replset
from workbench.curation.runlist import RunsResult, list_runs
from workbench.curation.splitting import SplitResult, run_split
from workbench.curation.status import StatusResult, status_markdown, workspace_status
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

C = TypeVar("C")


@lock.writes
def split(ws: Workspace, config: SplitConfig | None = None, **options: Any) -> SplitResult:
    """Split labeled images into train/val/test: per-class stratified, group-aware.

    Called with a :class:`SplitConfig`, or with its fields as keywords
    (``split(ws, ratios=(0.7, 0.15, 0.15), seed=0)``); nothing given: the workspace's.
    """
    return run_split(ws, _config(SplitConfig, config, options))


def check(ws: Workspace, config: CheckConfig | None = None, **options: Any) -> CheckResult:
    """Find duplicates across splits, group leaks, boxes outside images, empty classes.

    Called with a :class:`CheckConfig`, or with its fields as keywords.
    """
    return run_check(ws, _config(CheckConfig, config, options))


def status(ws: Workspace) -> StatusResult:
    """Counts of samples and boxes per source, split, status and class, and the rounds."""
    return workspace_status(ws)


def recover(ws: Workspace) -> RecoverResult:
    """Roll back the operations that killed or crashed commands left unfinished.

    Any command that writes does this first; ``status``, ``check`` and ``train`` refuse a
    workspace that needs it.
    """
    return _recover(ws)


def runs(ws: Workspace, config: RunsConfig | None = None, **options: Any) -> RunsResult:
    """The workspace's runs, oldest first (a :class:`RunsConfig`, or ``kind=`` as keyword)."""
    return list_runs(ws, _config(RunsConfig, config, options))


def _config(cls: type[C], config: C | None, options: dict[str, Any]) -> C:
    if config is not None and options:
        raise TypeError(f"give a {cls.__name__} or its fields as keywords, not both")
    return config if config is not None else cls(**options)


__all__ = ["RUN_KINDS", "CheckConfig", "CheckResult", "InitConfig", "InitResult",
           "RecoverResult", "RunsConfig", "RunsResult", "SplitConfig", "SplitResult",
           "StatusResult", "check", "init", "recover", "replset_status", "runs", "split",
           "start_replset", "status", "status_markdown", "stop_replset"]
