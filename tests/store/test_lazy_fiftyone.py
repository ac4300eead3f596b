"""Commands that only read or write documents reach MongoDB through pymongo, without fiftyone.

``import fiftyone`` costs seconds; the store connects with pymongo and imports fiftyone only
where FiftyOne itself is needed. Checked on the start-up imports, on the store's FiftyOne-free
reads (against FiftyOne's own answers) and on whole CLI commands run in a new process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, demo_images, make_yolo
from workbench.errors import WorkspaceError
from workbench.store import connection, datasets, schema
from workbench.store.workspace import open_workspace, workspace_for_dataset

HEAVY = ("fiftyone", "torch", "ultralytics", "matplotlib", "cv2", "onnx", "onnxruntime")

#: Runs ``workbench ARGV...`` in this process, then prints the JSON list of heavy modules
#: imported (the command's own output goes to stdout before it, on its own lines).
_RUN_AND_REPORT = f"""
import json, sys
sys.argv = ["workbench", *sys.argv[1:]]
from workbench.cli.main import main
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print("HEAVY=" + json.dumps(sorted({{m.split(".")[0] for m in heavy}})))
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=REPO, env=env or cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cli_start_up_imports_nothing_heavy() -> None:
    out = _python("import sys, workbench.cli.main, workbench.store.workspace; "
                  f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    assert out.strip() == "[]"


def test_mongod_binary_found_without_fiftyone() -> None:
    out = _python("import sys; from workbench.store import mongod; "
                  "print(mongod.find_mongod_binary()); print('fiftyone' in sys.modules)")
    path, imported = out.split()
    assert Path(path).is_file() and path.endswith("mongod") and imported == "False"


def test_database_name_follows_fiftyone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    monkeypatch.delenv("FIFTYONE_DATABASE_NAME", raising=False)
    monkeypatch.setenv("FIFTYONE_CONFIG_PATH", str(config))
    assert connection.database_name() == "fiftyone"
    config.write_text(json.dumps({"database_name": "from-file"}))
    assert connection.database_name() == "from-file"
    monkeypatch.setenv("FIFTYONE_DATABASE_NAME", "from-env")
    assert connection.database_name() == "from-env"
    config.write_text("not json")
    monkeypatch.delenv("FIFTYONE_DATABASE_NAME")
    assert connection.database_name() == "fiftyone"


@pytest.mark.integration
def test_store_reads_match_fiftyone(workspace) -> None:  # type: ignore[no-untyped-def]
    ds = workspace.dataset
    schema.ensure_detections_field(ds, "pred_x")
    ws = open_workspace(workspace.root)  # nothing loaded: pymongo only
    assert ws.samples.name == ds._sample_collection_name
    assert "dataset" not in ws.__dict__
    assert sorted(schema.field_names(ws)) == sorted(ds.get_field_schema())
    assert schema.has_field(ws, "pred_x") and datasets.has_sample_field(ws, "pred_x")
    assert not schema.has_field(ws, "pred_y") and not schema.has_field(ws, "_rand")
    assert schema.field_types(ws)["pred_x"] == "Detections"
    assert schema.field_types(ws)["split"] == "StringField"
    assert datasets.dataset_id(ws) == str(ds._doc.id)
    assert "dataset" not in ws.__dict__


@pytest.mark.integration
def test_missing_dataset_and_saved_classes(workspace) -> None:  # type: ignore[no-untyped-def]
    ws = open_workspace(workspace.root)
    ws.config.classes = ["a"]
    ws.save_config()  # default_classes differ: FiftyOne writes them
    assert workspace.dataset.reload() is None and workspace.dataset.default_classes == ["a"]
    ws = open_workspace(workspace.root)
    ws.save_config()  # unchanged: compared with pymongo, FiftyOne not loaded
    assert "dataset" not in ws.__dict__
    ws.config.name = "no-such-dataset"
    with pytest.raises(WorkspaceError, match="does not exist"):
        ws.samples  # noqa: B018


@pytest.mark.integration
def test_workspace_for_dataset(workspace) -> None:  # type: ignore[no-untyped-def]
    ds = workspace.dataset
    ws = workspace_for_dataset(ds)
    assert ws.root == workspace.root and ws.dataset is ds
    assert ws.samples.name == ds._sample_collection_name
    other = workspace.root.parent / "other"
    other.mkdir()
    (other / "workbench.yaml").write_text("name: other-dataset\n")
    with pytest.raises(WorkspaceError, match="not 't-"):
        workspace_for_dataset(ds, other)


@pytest.mark.slow
def test_document_commands_do_not_import_fiftyone(stop_mongods: Path) -> None:
    """status, runs and select --dry-run on an embedded-mongod workspace, each in a new
    process, never import fiftyone (nor torch, ultralytics, matplotlib, cv2, onnx)."""
    tmp = stop_mongods
    ws = str(tmp / "ws")
    images = demo_images(n=8)
    labeled = make_yolo(tmp / "labeled", {"train": images[:5]})
    pool = make_yolo(tmp / "pool", {"train": images[5:]})
    preds = tmp / "preds.jsonl"
    preds.write_text("".join(json.dumps({"filepath": str(p), "detections": [
        {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.4 + 0.1 * k,
         "class_probs": [0.4 + 0.1 * k, 0.6 - 0.1 * k, 0, 0, 0, 0, 0]}]}) + "\n"
        for k, p in enumerate(sorted((pool / "train" / "images").glob("*.jpg")))))
    for argv in (["init", ws, "--name", "lazy"],
                 ["ingest", str(labeled / "data.yaml"), "--format", "yolo", "-w", ws],
                 ["ingest", str(pool / "data.yaml"), "--format", "yolo", "--unlabeled",
                  "-w", ws],
                 ["split", "-w", ws],
                 ["predictions", "import", str(preds), "--run", "p", "-w", ws]):
        proc = subprocess.run([sys.executable, "-m", "workbench", *argv], capture_output=True,
                              text=True, cwd=REPO, env=cli_env(), timeout=300)
        assert proc.returncode == 0, proc.stderr
    for argv in (["status", "-w", ws, "--json"], ["runs", "-w", ws, "--json"],
                 ["select", "--uncertain", "2", "--dry-run", "-w", ws, "--json"]):
        out = _python(_RUN_AND_REPORT, *argv)
        body, _, heavy = out.rpartition("HEAVY=")
        assert json.loads(heavy) == [], f"workbench {' '.join(argv)} imported {heavy}"
        assert json.loads(body)  # the command printed its JSON


@pytest.mark.integration
def test_ensure_fields_loads_fiftyone_only_for_missing_ones(workspace) -> None:  # type: ignore[no-untyped-def]
    ws = open_workspace(workspace.root)
    assert schema.ensure_fields(ws, {"split": "string", "ground_truth": "detections"}) == []
    assert "dataset" not in ws.__dict__
    fields = {"pred_a": "detections", "scores_a": "dict", "emb_a": "vector", "f": "float",
              "s": "string", "fl": "float_list"}
    assert schema.ensure_fields(ws, fields) == list(fields)
    assert schema.ensure_fields(ws, fields) == []
    types = schema.field_types(ws)
    assert [types[n] for n in fields] == ["Detections", "DictField", "VectorField",
                                          "FloatField", "StringField", "ListField(FloatField)"]
    assert set(fields) <= set(workspace.dataset.get_field_schema())
