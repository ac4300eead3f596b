"""Facts about a workspace's FiftyOne dataset read straight from FiftyOne's own collections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.errors import WorkspaceError

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: FiftyOne's collection of dataset documents (one per dataset, keyed by ``name``).
DATASETS_COLLECTION = "datasets"


def dataset_id(ws: Workspace) -> str:
    """The id of the workspace's FiftyOne dataset (hex), as FiftyOne stores it.

    Read from FiftyOne's ``datasets`` collection by name, so the dataset is not loaded.

    Raises:
        WorkspaceError: the dataset does not exist in the workspace's database.
    """
    doc: dict[str, Any] | None = ws.db[DATASETS_COLLECTION].find_one(
        {"name": ws.config.name}, {"_id": 1})
    if doc is None:
        raise WorkspaceError(
            f"the dataset {ws.config.name!r} of workspace {ws.root} does not exist in "
            f"{ws.target.describe()}; was the database deleted? Re-create the workspace "
            "with `workbench init`")
    return str(doc["_id"])


def has_sample_field(ws: Workspace, name: str) -> bool:
    """Whether the dataset's schema has the sample field ``name``."""
    from workbench.store.schema import has_field

    return has_field(ws, name)
