"""The App capability's public surface: launch the FiftyOne App with the workbench operators,
and the workspace of the App's dataset (for the operators)."""

from __future__ import annotations

from workbench.store.workspace import workspace_for_dataset
from workbench.ui.launch import configure_plugins, launch

__all__ = ["configure_plugins", "launch", "workspace_for_dataset"]
