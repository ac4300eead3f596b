"""The FiftyOne App: where it finds plugins, and a session on a workspace's dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def set_plugins_dir(folder: Path) -> None:
    """Point FiftyOne, and the App server process it starts, at the plugins in ``folder``."""
    os.environ["FIFTYONE_PLUGINS_DIR"] = str(folder)
    import fiftyone as fo

    fo.config.plugins_dir = str(folder)


def launch_app(ws: Workspace, port: int, open_browser: bool) -> Any:
    """Start the App on 127.0.0.1 for the workspace's dataset and return the session.

    Args:
        ws: the workspace.
        port: the App's port.
        open_browser: open a browser tab (off: a remote session, for headless machines).
    """
    ds = ws.dataset
    import fiftyone as fo

    return fo.launch_app(ds, port=port, address="127.0.0.1", auto=False, remote=not open_browser)
