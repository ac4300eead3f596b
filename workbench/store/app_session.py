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


def run_scheduled(dataset_name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Run the operations the App scheduled (delegated) on this dataset, oldest first.

    FiftyOne queues a delegated operation in its database; this executes queued ones here, as
    ``fiftyone delegated launch`` would, with progress written back for the App to show.

    Args:
        dataset_name: the workspace's dataset.
        limit: run at most this many (None: all queued now).

    Returns:
        One ``{"id", "operator", "state", "error"}`` per operation run.
    """
    from fiftyone.operators.delegated import DelegatedOperationService

    service = DelegatedOperationService()
    queued = service.get_queued_operations(dataset_name=dataset_name)
    out: list[dict[str, Any]] = []
    for op in queued[:limit] if limit is not None else queued:
        result = service.execute_operation(op)
        error = getattr(result, "error_message", None) or getattr(result, "error", None)
        out.append({"id": str(op.id), "operator": op.operator,
                    "state": "failed" if error else "completed", "error": error})
    return out


def queued_operations(dataset_name: str) -> list[dict[str, Any]]:
    """The operations scheduled on the dataset and not started: ``{"id", "operator"}`` each."""
    from fiftyone.operators.delegated import DelegatedOperationService

    docs = DelegatedOperationService().get_queued_operations(dataset_name=dataset_name)
    return [{"id": str(d.id), "operator": d.operator} for d in docs]


def spec_view(dataset: Any, spec: str) -> Any:
    """The FiftyOne view of a view spec (``round:round-3``) on ``dataset``, for the App to open.

    Raises:
        ConfigError: the spec is not a view spec (:data:`workbench.store.views.FORMS`).
    """
    from workbench.store.views import view_match

    return dataset.mongo([{"$match": view_match(spec)}])
