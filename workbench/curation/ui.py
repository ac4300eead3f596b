"""The curation capability's App operators: ``wb_status``, ``wb_split`` and ``wb_check``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.curation.api import CheckConfig, SplitConfig, check, split, status
from workbench.curation.status import status_markdown
from workbench.ui.api import OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace


def _status(ws: Workspace, cfg: None, report: Report) -> dict[str, Any]:
    result = status(ws)
    return {**result.to_dict(), "markdown": status_markdown(result)}


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_status``, ``wb_split`` and ``wb_check``."""
    ops.register("wb_status", OperatorSpec(
        "wb_status", "Workbench: workspace status",
        "Samples and boxes per split, status, source and class; the rounds and the runs "
        "(`workbench status`).", None, _status))
    ops.register("wb_split", OperatorSpec(
        "wb_split", "Workbench: split",
        "Assign labeled images to train / val / test, groups kept together (`workbench split`).",
        SplitConfig, plain(split)))
    ops.register("wb_check", OperatorSpec(
        "wb_check", "Workbench: check the workspace",
        "Check that status, split and tags agree and that no group leaks across splits "
        "(`workbench check`).", CheckConfig, plain(check)))
