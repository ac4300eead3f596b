"""Workspaces: a folder with ``workbench.yaml`` and one FiftyOne dataset.

The database (``ws.db``), the sample collection (``ws.samples``) and the run records
(``ws.runs``) are plain pymongo objects, found without importing fiftyone; ``ws.dataset``, the
FiftyOne dataset, is loaded (and fiftyone imported) only when something needs FiftyOne itself.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from workbench.errors import WorkspaceError
from workbench.store import connection, journal, schema, transaction
from workbench.store.config import (
    WORKSPACE_FILE,
    WorkspaceConfig,
    validate_classes,
    validate_ratios,
)
from workbench.store.datasets import DATASETS_COLLECTION


class Workspace:
    """An opened workspace.

    Attributes:
        root: the workspace folder.
        config: the parsed ``workbench.yaml``.
    """

    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, dataset={self.config.name!r})"

    @property
    def classes(self) -> list[str]:
        """The workspace's class list (model class order)."""
        return list(self.config.classes)

    @property
    def target(self) -> connection.DatabaseTarget:
        """Where this workspace's database is."""
        if self.config.database_uri:
            return connection.DatabaseTarget(uri=self.config.database_uri, directory=None)
        directory = Path(self.config.database_dir)
        if not directory.is_absolute():
            directory = self.root / directory
        return connection.DatabaseTarget(uri=None, directory=directory.resolve())

    @cached_property
    def _database(self) -> Any:
        return connection.connect(self.target)

    @property
    def db(self) -> Any:
        """The pymongo database holding the dataset (bound to the session of the transaction
        this thread has open on the workspace: :mod:`workbench.store.transaction`)."""
        return transaction.bind(self, self._database)

    @cached_property
    def dataset(self) -> Any:
        """The FiftyOne dataset (``fiftyone.core.dataset.Dataset``); imports fiftyone."""
        self.db  # noqa: B018  (connects first, with the workspace's target)
        fo = connection.fiftyone()
        if not fo.dataset_exists(self.config.name):
            raise self._missing_dataset()
        return fo.load_dataset(self.config.name)

    def dataset_document(self, projection: dict[str, Any] | None = None) -> dict[str, Any]:
        """The dataset's document in FiftyOne's ``datasets`` collection (read with pymongo).

        Args:
            projection: the fields to read (all by default).

        Raises:
            WorkspaceError: the dataset does not exist in the workspace's database.
        """
        doc: dict[str, Any] | None = self.db[DATASETS_COLLECTION].find_one(
            {"name": self.config.name}, projection)
        if doc is None:
            raise self._missing_dataset()
        return doc

    def _missing_dataset(self) -> WorkspaceError:
        return WorkspaceError(
            f"the dataset {self.config.name!r} of workspace {self.root} does not exist in "
            f"{self.target.describe()}; was the database deleted? Re-create the workspace "
            "with `workbench init`"
        )

    @cached_property
    def sample_collection_name(self) -> str:
        """Name of the dataset's sample collection (FiftyOne's ``sample_collection_name``)."""
        if "dataset" in self.__dict__:
            return str(self.dataset._sample_collection_name)
        return str(self.dataset_document({"sample_collection_name": 1})["sample_collection_name"])

    @property
    def samples(self) -> Any:
        """The raw pymongo collection of the dataset's samples (for bulk paths)."""
        return transaction.bind(self, self._database[self.sample_collection_name])

    @property
    def runs(self) -> Any:
        """The pymongo collection of run records."""
        return transaction.bind(self, self._database[schema.RUNS_COLLECTION])

    def save_config(self) -> None:
        """Write the config back to ``workbench.yaml`` and mirror the classes to the dataset."""
        self.config.save(self.root)
        if "dataset" not in self.__dict__:  # compare with pymongo; load FiftyOne to change
            doc = self.dataset_document({"default_classes": 1})
            if list(doc.get("default_classes") or []) == self.config.classes:
                return
        ds = self.dataset
        if list(ds.default_classes) != self.config.classes:
            ds.default_classes = list(self.config.classes)
            ds.save()

    def add_classes(self, names: list[str]) -> list[str]:
        """Append new class names (existing ones keep their index); return those added."""
        added = [n for n in dict.fromkeys(names) if n not in self.config.classes]
        if added:
            validate_classes(self.config.classes + added)
            journal.changing_classes(self)
            self.config.classes.extend(added)
            self.save_config()
        return added


def open_workspace(path: str | Path = ".") -> Workspace:
    """Open the workspace in ``path`` (the folder holding ``workbench.yaml``).

    Raises:
        WorkspaceError: ``path`` holds no workspace, or its file is malformed.
    """
    root = Path(path).expanduser().resolve()
    return Workspace(root, WorkspaceConfig.load(root))


def workspace_for_dataset(dataset: Any, path: str | Path | None = None) -> Workspace:
    """The workspace of an already loaded FiftyOne dataset (the App's ``ctx.dataset``).

    Args:
        dataset: a ``fiftyone.core.dataset.Dataset`` created by ``workbench init``.
        path: the workspace folder; default: the one ``init`` recorded in the dataset's
            ``info["workbench_workspace"]``.

    Raises:
        WorkspaceError: the dataset records no workspace, or the workspace's dataset is
            another one.
    """
    root = path if path is not None else (dataset.info or {}).get("workbench_workspace")
    if not root:
        raise WorkspaceError(
            f"the dataset {dataset.name!r} was not created by `workbench init` (its info has "
            "no workbench_workspace)")
    ws = open_workspace(root)
    if ws.config.name != dataset.name:
        raise WorkspaceError(
            f"the workspace {ws.root} holds the dataset {ws.config.name!r}, not "
            f"{dataset.name!r}")
    ws.__dict__["dataset"] = dataset
    return ws


def init_workspace(
    path: str | Path = ".",
    name: str | None = None,
    classes: list[str] | None = None,
    database_uri: str | None = None,
    database_dir: str | None = None,
    split_ratios: tuple[float, float, float] | None = None,
) -> Workspace:
    """Create a workspace: ``workbench.yaml`` plus an empty persistent FiftyOne dataset.

    Args:
        path: the folder (created if missing).
        name: dataset name; default: the folder's name.
        classes: the class list; may be left empty and filled by the first labeled ingest.
        database_uri: an external MongoDB; default: embedded mongod with data in the folder.
        database_dir: the embedded mongod's data folder, when not ``.fiftyone-db`` inside
            the workspace (workspaces sharing another's database, e.g. simulations).
        split_ratios: train/val/test ratios for ``workbench split`` (default 0.7/0.15/0.15).

    Raises:
        WorkspaceError: the folder already holds a workspace, or the dataset name is taken.
    """
    root = Path(path).expanduser().resolve()
    if (root / WORKSPACE_FILE).exists():
        raise WorkspaceError(f"{root} already holds a workspace ({WORKSPACE_FILE} exists)")
    config = WorkspaceConfig(
        name=name or _default_name(root), classes=list(classes or []), database_uri=database_uri
    )
    if database_dir is not None:
        config.database_dir = database_dir
    if split_ratios is not None:
        validate_ratios(split_ratios)
        config.split.ratios = split_ratios
    ws = Workspace(root, config)
    ws.db  # noqa: B018  (connect before touching fiftyone's dataset registry)
    fo = connection.fiftyone()
    if fo.dataset_exists(config.name):
        raise WorkspaceError(
            f"a dataset named {config.name!r} already exists in {ws.target.describe()}; "
            "choose another with --name"
        )
    root.mkdir(parents=True, exist_ok=True)
    ds = fo.Dataset(config.name, persistent=True)
    ds.default_classes = list(config.classes)
    ds.info = {"workbench_workspace": str(root)}
    ds.save()
    schema.ensure_schema(ds)
    config.save(root)
    ws.__dict__["dataset"] = ds
    return ws


def _default_name(root: Path) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in root.name).strip("-._")
    return cleaned or "workbench"


def drop_dataset(src: Workspace, name: str) -> bool:
    """Delete dataset ``name`` (and its run records) from ``src``'s database, if it exists.

    Used for simulation datasets whose folder is gone. Returns whether one was deleted.
    """
    src.db  # noqa: B018  (connect first)
    fo = connection.fiftyone()
    if not fo.dataset_exists(name):
        return False
    fo.load_dataset(name).delete()
    src.runs.delete_many({"dataset": name})
    from workbench.store import score_indexes  # it imports this module's users

    score_indexes.forget_dataset(src, name)
    return True
