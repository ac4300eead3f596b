"""workbench: a data-centric active-learning workbench for object detection.

Capability modules are named as nouns (``workbench.ingestion.ingest``) so that the verbs exported
here (``workbench.ingest``) are never shadowed by a submodule of the same name.

Every CLI command is one library call::

    import workbench as wb

    ws = wb.init_workspace("my-ws", classes=["fish", "shark"])
    wb.ingest(ws, "datasets/aquarium-mini", format="yolo")
    ws = wb.open_workspace("my-ws")
    ws.dataset  # the FiftyOne dataset
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from workbench.curation.checking import check as check
    from workbench.curation.splitting import split as split
    from workbench.curation.status import status as status
    from workbench.ingestion.ingest import ingest as ingest
    from workbench.store.workspace import Workspace as Workspace
    from workbench.store.workspace import init_workspace as init_workspace
    from workbench.store.workspace import open_workspace as open_workspace
    from workbench.training.evaluation import evaluate as evaluate
    from workbench.training.runner import TrainConfig as TrainConfig
    from workbench.training.runner import train as train

_LAZY = {
    "Workspace": "workbench.store.workspace",
    "init_workspace": "workbench.store.workspace",
    "open_workspace": "workbench.store.workspace",
    "ingest": "workbench.ingestion.ingest",
    "split": "workbench.curation.splitting",
    "check": "workbench.curation.checking",
    "status": "workbench.curation.status",
    "train": "workbench.training.runner",
    "TrainConfig": "workbench.training.runner",
    "evaluate": "workbench.training.evaluation",
}


def __getattr__(name: str) -> Any:
    """Import heavy modules (fiftyone) only when their functions are used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [*_LAZY, "__version__"]
