from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.errors import ConfigError, WorkspaceError
from workbench.store import connection
from workbench.store.config import WorkspaceConfig
from workbench.store.workspace import init_workspace, open_workspace

pytestmark = pytest.mark.integration


def test_init_creates_yaml_and_dataset(workspace) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((workspace.root / "workbench.yaml").read_text())
    assert data["name"] == workspace.config.name
    assert data["database_uri"].startswith("mongodb://127.0.0.1:")
    ws = open_workspace(workspace.root)
    assert ws.dataset.name == workspace.config.name
    schema = ws.dataset.get_field_schema()
    for field in ("source", "source_id", "content_hash", "group", "split", "status",
                  "ground_truth", "round_selected"):
        assert field in schema
    assert "content_hash" in ws.dataset.list_indexes()


def test_init_refuses_existing(workspace, mongo_uri: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkspaceError, match="already holds a workspace"):
        init_workspace(workspace.root, database_uri=mongo_uri)
    with pytest.raises(WorkspaceError, match="already exists"):
        init_workspace(tmp_path / "other", name=workspace.config.name, database_uri=mongo_uri)


def test_add_classes_keeps_order(workspace) -> None:  # type: ignore[no-untyped-def]
    assert workspace.add_classes(["b", "a"]) == ["b", "a"]
    assert workspace.add_classes(["a", "c"]) == ["c"]
    assert open_workspace(workspace.root).classes == ["b", "a", "c"]
    assert workspace.dataset.default_classes == ["b", "a", "c"]


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is not a workbench workspace"):
        open_workspace(tmp_path)
    (tmp_path / "workbench.yaml").write_text("name: [unclosed")
    with pytest.raises(WorkspaceError, match="not valid YAML"):
        open_workspace(tmp_path)
    (tmp_path / "workbench.yaml").write_text("name: x\ncolour: red\n")
    with pytest.raises(WorkspaceError, match="unknown keys"):
        open_workspace(tmp_path)


def test_second_database_in_one_process_is_refused(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    workspace.db  # noqa: B018
    with pytest.raises(WorkspaceError, match="already uses the database"):
        connection.connect(connection.DatabaseTarget(uri=None, directory=tmp_path / "db"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "bad name!"}, "invalid workspace name"),
        ({"name": "ok", "classes": ["a", "a"]}, "appears twice"),
        ({"name": "ok", "split": {"ratios": [0.5, 0.5, 0.5]}}, "invalid split ratios"),
    ],
)
def test_config_validation(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorkspaceConfig.from_dict(data)


def test_samples_added_through_fiftyone_do_not_collide(workspace) -> None:  # type: ignore[no-untyped-def]
    import fiftyone as fo

    ds = workspace.dataset
    ds.add_samples([fo.Sample(filepath="/tmp/a.jpg"), fo.Sample(filepath="/tmp/b.jpg")])
    assert len(ds) == 2
