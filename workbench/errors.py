"""Errors users can cause. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations

from typing import Any


class WorkbenchError(Exception):
    """Base class of every error a user can cause (bad input, wrong workspace, ...).

    The message must say what was wrong, where (file, line, sample) and how to fix it.
    """

    exit_code: int = 1


class WorkspaceError(WorkbenchError):
    """The workspace is missing, malformed, or cannot reach its database."""


class ConfigError(WorkbenchError):
    """A configuration value (CLI option, YAML key) is invalid."""


class UnknownNameError(ConfigError):
    """A name looked up in a registry does not exist."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
        super().__init__(f"unknown {kind} {name!r}; valid {plural}: {', '.join(sorted(valid))}")
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)


class SourceError(WorkbenchError):
    """Input files (images, labels, manifests) are unreadable or invalid."""


class InputReportError(SourceError):
    """Validation found problems in the input and nothing was written.

    ``result`` carries the full report (``to_dict()`` and ``issues``) for the CLI to print.
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class ClassListError(SourceError):
    """Class names in the input do not match the workspace's class list."""


class LeakError(WorkbenchError):
    """``workbench check`` found duplicates or group leaks across splits."""


class ToolchainError(WorkbenchError):
    """An export toolchain is missing, cannot be installed, or its compiler failed."""


class BudgetError(WorkbenchError):
    """A compiled model does not fit the device's memory budget."""


class WorkspaceBusyError(WorkbenchError):
    """Another process is writing the workspace (it holds the workspace's write lock)."""

    exit_code = 75  # EX_TEMPFAIL: try again later

    def __init__(self, dataset: str, holder: str, waited: float, advice: str | None = None
                 ) -> None:
        waited_text = f" after waiting {waited:g} s" if waited > 0 else ""
        advice = advice or ("wait for it, or retry with `workbench --wait SECONDS ...` "
                            "(Python: WORKBENCH_LOCK_WAIT=SECONDS)")
        super().__init__(f"workspace busy{waited_text}: {holder} (dataset {dataset!r}); {advice}")
        self.dataset = dataset
        self.holder = holder
        self.waited = waited


class InterruptedOperationError(WorkbenchError):
    """A process died in the middle of writing the workspace; it has not been rolled back."""

    exit_code = 3

    def __init__(self, command: str, operation: str, count: int = 1) -> None:
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(
            f"the workspace has an unfinished operation: {operation}{more} stopped half-way "
            f"(killed or crashed). `{command}` will not read half-written data; run "
            "`workbench recover` to roll it back (any command that writes does it too), "
            f"then `{command}` again")
        self.command = command
        self.operation = operation
