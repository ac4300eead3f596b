"""``workbench app``: the FiftyOne App on 127.0.0.1 for a workspace, with the plugins loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.resources import plugins_dir
from workbench.store import app_session
from workbench.store.workspace import Workspace


def configure_plugins() -> Path:
    """Point FiftyOne (and the App server it starts) at the shipped plugins folder.

    Returns:
        The folder (``workbench/_data/plugins`` in a wheel, ``plugins/`` in a checkout).
    """
    folder = plugins_dir()
    app_session.set_plugins_dir(folder)
    return folder


def launch(ws: Workspace, port: int = 5151, open_browser: bool = True) -> Any:
    """Start the App for the workspace's dataset and return the session.

    Args:
        ws: the workspace.
        port: the App's port on 127.0.0.1.
        open_browser: open a browser tab (off on headless machines).
    """
    configure_plugins()
    return app_session.launch_app(ws, port=port, open_browser=open_browser)


def run_scheduled(ws: Workspace, limit: int | None = None) -> list[dict[str, Any]]:
    """Run the operations scheduled (delegated) from the App on the workspace's dataset.

    Returns:
        One ``{"id", "operator", "state", "error"}`` per operation run.
    """
    configure_plugins()
    return app_session.run_scheduled(ws.config.name, limit)
