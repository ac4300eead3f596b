"""``workbench app``: the FiftyOne App on 127.0.0.1 for a workspace, with ``plugins/`` loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.store.workspace import Workspace

PLUGINS_DIR = Path(__file__).resolve().parent.parent / "plugins"


def configure_plugins() -> Path:
    """Point FiftyOne (and the App server it starts) at the repo's ``plugins/`` folder."""
    os.environ["FIFTYONE_PLUGINS_DIR"] = str(PLUGINS_DIR)
    import fiftyone as fo

    fo.config.plugins_dir = str(PLUGINS_DIR)
    return PLUGINS_DIR


def launch(ws: Workspace, port: int = 5151, open_browser: bool = True) -> Any:
    """Start the App for the workspace's dataset and return the session.

    Args:
        ws: the workspace.
        port: the App's port on 127.0.0.1.
        open_browser: open a browser tab (off on headless machines).
    """
    configure_plugins()
    ds = ws.dataset
    import fiftyone as fo

    return fo.launch_app(ds, port=port, address="127.0.0.1", auto=False, remote=not open_browser)
