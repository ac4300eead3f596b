"""``workbench app``: the FiftyOne App for a workspace, with the workbench operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import Stage, WorkspaceOpt, open_workspace, out


def app_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5151,
    open_browser: Annotated[bool, typer.Option("--open/--no-open",
                                               help="Open a browser tab.")] = True,
    worker: Annotated[bool, typer.Option(
        "--worker/--no-worker",
        help="Run the operations scheduled from the App (train, predict, export ... with "
             "progress) in this process, one at a time.")] = True,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Open the FiftyOne App for the workspace, with the workbench operators and panels.

    Every command has an operator (press ` in the App, or the operator browser); long ones can
    be scheduled and run here, with their progress shown in the App. Ctrl-C stops it.
    """
    import time

    from workbench.ui.launch import launch, run_scheduled

    ws = open_workspace(workspace)
    session = launch(ws, port=port, open_browser=open_browser)
    out.print(f"FiftyOne App: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    if not worker:
        session.wait(-1)
        return
    out.print("running the operations scheduled from the App here")
    try:
        while True:
            for op in run_scheduled(ws, limit=1):
                state = "[green]done[/]" if op["state"] == "completed" else "[red]failed[/]"
                out.print(f"{state} {op['operator']}" + (f": {op['error']}" if op["error"]
                                                          else ""))
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add ``app`` (workspace)."""
    app.command("app", rich_help_panel=Stage.WORKSPACE.value)(app_command)
