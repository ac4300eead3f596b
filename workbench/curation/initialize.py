"""``workbench init``: a new workspace (``workbench.yaml`` plus one FiftyOne dataset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.curation.config import InitConfig
from workbench.store.workspace import Workspace, init_workspace


@dataclass
class InitResult:
    """The created workspace.

    Attributes:
        workspace: its folder; ``dataset``: the dataset name; ``classes``: the class list;
            ``database``: where the data lives.
        ws: the opened workspace (not part of the JSON).
    """

    workspace: str
    dataset: str
    classes: list[str]
    database: str
    ws: Workspace | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``workbench init --json`` prints)."""
        return {"workspace": self.workspace, "dataset": self.dataset, "classes": self.classes,
                "database": self.database}


def init(directory: str | Path, config: InitConfig | None = None) -> InitResult:
    """Create a workspace in ``directory``.

    Raises:
        WorkspaceError: the folder already holds a workspace, or the dataset name is taken.
    """
    config = config or InitConfig()
    ws = init_workspace(directory, name=config.name, classes=list(config.classes),
                        database_uri=config.database_uri)
    return InitResult(str(ws.root), ws.config.name, ws.classes, ws.target.describe(), ws)
