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
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Open the FiftyOne App for the workspace (plugins/ registered). Ctrl-C stops it."""
    from workbench.ui.launch import launch

    session = launch(open_workspace(workspace), port=port, open_browser=open_browser)
    out.print(f"FiftyOne App: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    session.wait(-1)


def register(app: typer.Typer) -> None:
    """Add ``app`` (workspace)."""
    app.command("app", rich_help_panel=Stage.WORKSPACE.value)(app_command)
