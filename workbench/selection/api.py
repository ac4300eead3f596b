"""The selection capability's public surface: select and its config/result."""

from __future__ import annotations

from workbench.selection.select import SelectConfig, SelectResult, select

__all__ = ["SelectConfig", "SelectResult", "select"]
