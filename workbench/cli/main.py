"""The ``workbench`` command: one Typer app, assembled from the capabilities' ``register(app)``.

Each capability contributes its commands through ``workbench.<capability>.cli.register``;
:data:`CAPABILITIES` lists them in the order of the work and ``--help`` groups the commands by
:class:`~workbench.cli.common.Stage`. Heavy imports (fiftyone, torch) happen inside the
commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from workbench.cli.common import Stage, err
from workbench.errors import WorkbenchError

#: The capabilities whose commands make up the CLI, in the order of the work.
CAPABILITIES = ("ingestion", "curation", "ui", "ssl", "training", "mining", "prediction",
                "ensembling", "calibration", "selection", "annotation", "loop", "deployment")
_STAGES = [s.value for s in Stage]


class StagedGroup(TyperGroup):
    """Lists commands grouped by stage (in :class:`Stage` order), registration order within."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)

        def stage(name: str) -> int:
            panel = getattr(self.commands[name], "rich_help_panel", None)
            return _STAGES.index(panel) if panel in _STAGES else len(_STAGES)

        return sorted(names, key=stage)


def build_app() -> typer.Typer:
    """A fresh Typer app with every capability's commands registered."""
    cli = typer.Typer(
        name="workbench",
        help="Data-centric active learning for object detection, on a FiftyOne store.",
        cls=StagedGroup,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    cli.callback()(_global_options)
    for name in CAPABILITIES:
        importlib.import_module(f"workbench.{name}.cli").register(cli)
    return cli


def _global_options(
    wait: Annotated[float | None, typer.Option(
        "--wait", min=0, metavar="SECONDS",
        help="If another process is writing the workspace, wait up to SECONDS for it "
             "(default 0: fail at once with 'workspace busy'; env WORKBENCH_LOCK_WAIT).")]
    = None,
) -> None:
    """Data-centric active learning for object detection, on a FiftyOne store."""
    if wait is not None:
        from workbench.store.lock import WAIT_ENV

        os.environ[WAIT_ENV] = str(wait)


app = build_app()


def main() -> None:
    """Entry point: run the app, print user errors without a traceback."""
    _report_lock_takeovers()
    try:  # a user's error, or the database going away: one message, no traceback
        app()
    except Exception as exc:
        from workbench.store.connection import database_failure

        failure: WorkbenchError | None = database_failure(exc)
        if failure is None:
            if not isinstance(exc, WorkbenchError):
                raise
            failure = exc
        err.print(f"[red]error:[/] {failure}", highlight=False)
        if failure is not exc:  # the database died: exit hooks would only wait for it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(failure.exit_code)
        sys.exit(failure.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


def _report_lock_takeovers() -> None:
    """Print one line on stderr when a command takes over a stale workspace lock."""
    from workbench.store import journal, lock

    def report(holder: lock.Holder) -> None:
        err.print(f"[yellow]note:[/] took over the workspace lock of a process that is gone "
                  f"({holder.describe()})", highlight=False)

    lock.on_takeover = report

    def recovered(report: journal.Recovery) -> None:
        err.print(f"[yellow]recovered:[/] {report.describe()}", highlight=False)

    lock.on_recovered = recovered


if __name__ == "__main__":
    main()
