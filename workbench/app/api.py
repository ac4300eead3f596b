"""The App capability's public surface: launch the FiftyOne App with the workbench operators."""

from __future__ import annotations

from workbench.app.launch import configure_plugins, launch

__all__ = ["configure_plugins", "launch"]
