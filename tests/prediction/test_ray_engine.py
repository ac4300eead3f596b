"""``workbench predict --engine ray`` on a real two-node Ray cluster on loopback (issue 20).

The cluster (a head node and one more node, one CPU each, ``ray start``) is started once for
the module; every Ray predict connects to it with ``--address 127.0.0.1:PORT``. Results are
compared with the local engine's on the same images, box by box.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CLASSES, DEMO, _free_port, cli_env, demo_images
from tests.ray_support import imports_of, ray_cluster, ray_env
from workbench.errors import ConfigError, WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.prediction.predict import PredictConfig, predict
from workbench.store import runs

CHECKPOINT = str(DEMO / "weights" / "yolov8n-224.pt")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a head node plus one more node (one CPU each), stopped after."""
    with ray_cluster() as address:
        yield address


def _ingest(ws: Any, tmp_path: Path, files: list[Path], folder: str = "pool") -> None:
    if not ws.classes:
        ws.add_classes(CLASSES)
    pool = tmp_path / folder
    pool.mkdir()
    for p in files:
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")


def _stored(ws: Any, run: str) -> dict[Any, dict[str, Any]]:
    """Per sample: the run's boxes, confidences, labels, class vectors and scores."""
    pred, scores = f"pred_{run}", f"scores_{run}"
    out = {}
    for doc in ws.samples.find({}, {pred: 1, scores: 1, f"emb_{run}": 1}):
        dets = (doc.get(pred) or {}).get("detections") or []
        out[doc["_id"]] = {
            "labels": [d["label"] for d in dets],
            "boxes": np.asarray([d["bounding_box"] for d in dets], dtype=float).reshape(-1, 4),
            "confidence": np.asarray([d["confidence"] for d in dets], dtype=float),
            "class_probs": np.asarray([d["class_probs"] for d in dets], dtype=float),
            "scores": doc.get(scores), "emb": np.asarray(doc.get(f"emb_{run}") or [])}
    return out


def _assert_same(a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]]) -> None:
    assert a.keys() == b.keys()
    for sid, x in a.items():
        y = b[sid]
        assert x["labels"] == y["labels"], sid
        for key in ("boxes", "confidence", "class_probs", "emb"):
            np.testing.assert_allclose(x[key], y[key], atol=1e-5, err_msg=f"{sid} {key}")
        assert x["scores"].keys() == y["scores"].keys()
        for key, value in x["scores"].items():
            assert value == pytest.approx(y["scores"][key], abs=1e-5), (sid, key)


# ----------------------------------------------------------------- rules, no cluster needed


@pytest.mark.parametrize(("options", "says"), [
    ({"engine": "ray", "tta": True}, "runs the plain pass only"),
    ({"address": "auto"}, "add --engine ray"),
    ({"workers": 2}, "add --engine ray"),
    ({"engine": "ray", "workers": 0}, "at least 1"),
    ({"resume": True}, "--resume continues a run: add --run"),
    ({"resume": True, "replace": True, "run": "r"}, "choose one"),
    ({"engine": "spark"}, "ray"),
])
def test_engine_options_are_checked(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        PredictConfig(model=CHECKPOINT, **options)
    assert says in str(caught.value)


def test_missing_ray_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.raypool import RayUnavailableError, import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray gives
    with pytest.raises(RayUnavailableError, match=r'pip install "ray\[data\]"'):
        import_ray()


def test_the_actor_side_imports_neither_fiftyone_nor_the_store() -> None:
    modules = ["workbench.prediction.ray_engine", "workbench.prediction.backends.onnx"]
    assert imports_of(modules) == ([], [])


# ----------------------------------------------------------------- on the cluster


@pytest.mark.slow
@pytest.mark.integration
def test_ray_gives_the_local_engines_results(workspace: Any, tmp_path: Path,
                                             cluster: str) -> None:
    _ingest(workspace, tmp_path, demo_images("test", n=20) + demo_images("valid", n=20))
    common: dict[str, Any] = {"batch": 8, "embeddings": True, "calibration": "none"}
    local = predict(workspace, CHECKPOINT, run="loc", **common)
    pooled = predict(workspace, CHECKPOINT, run="ray", engine="ray", address=cluster,
                     workers=2, chunk=16, **common)
    assert pooled.samples == local.samples == 40 and pooled.engine == "ray"
    assert pooled.boxes == local.boxes > 40 and pooled.predicted == 40
    assert pooled.uncertainty_fields == [f.replace("_loc_", "_ray_")
                                         for f in local.uncertainty_fields]
    _assert_same(_stored(workspace, "loc"), _stored(workspace, "ray"))
    doc = runs.get_run(workspace, "ray")
    assert doc is not None and doc["params"]["engine"] == "ray"
    assert doc["outputs"]["samples"] == 40
    shown = workspace.samples.count_documents({"show_ray": {"$exists": True}})
    assert shown == 40


@pytest.mark.slow
@pytest.mark.integration
def test_resume_predicts_only_what_is_missing_and_records_the_run_once(
        workspace: Any, tmp_path: Path, cluster: str) -> None:
    first, second = demo_images("valid", n=40)[:20], demo_images("valid", n=40)[20:]
    _ingest(workspace, tmp_path, first, "part1")
    common: dict[str, Any] = {"batch": 8, "calibration": "none"}
    half = predict(workspace, CHECKPOINT, run="r", **common)  # the local engine
    before = _stored(workspace, "r")
    _ingest(workspace, tmp_path, second, "part2")  # the pool grew: 20 images lack pred_r
    with pytest.raises(WorkbenchError, match=r"conf: run 0\.01, now 0\.2"):
        predict(workspace, CHECKPOINT, run="r", resume=True, conf=0.2, engine="ray",
                address=cluster, **common)
    with pytest.raises(WorkbenchError, match="exists"):
        predict(workspace, CHECKPOINT, run="r", **common)
    done = predict(workspace, CHECKPOINT, run="r", resume=True, engine="ray", address=cluster,
                   workers=1, **common)
    assert (done.samples, done.predicted, done.skipped) == (40, 20, 20)
    after = _stored(workspace, "r")
    assert all(v["scores"] is not None for v in after.values())
    _assert_same(before, {k: after[k] for k in before})  # the first half kept as it was
    assert done.boxes == sum(len(v["labels"]) for v in after.values()) > half.boxes
    again = predict(workspace, CHECKPOINT, run="r", resume=True, engine="ray",
                    address=cluster, **common)  # nothing left: Ray is not even asked
    assert (again.predicted, again.skipped, again.boxes) == (0, 40, done.boxes)
    assert again.uncertainty_fields == done.uncertainty_fields
    recorded = [d for d in runs.list_runs(workspace) if d["_id"] == "r"]
    assert len(recorded) == 1 and recorded[0]["outputs"]["samples"] == 40
    # the same images predicted in one go give the same boxes
    whole = predict(workspace, CHECKPOINT, run="whole", **common)
    assert whole.boxes == done.boxes
    _assert_same(after, _stored(workspace, "whole"))


@pytest.mark.slow
@pytest.mark.integration
def test_cli_predict_on_ray_prints_json(workspace: Any, tmp_path: Path, cluster: str) -> None:
    _ingest(workspace, tmp_path, demo_images("test", n=12))
    cmd = [sys.executable, "-m", "workbench", "predict", "--model", CHECKPOINT, "--run", "c",
           "--engine", "ray", "--address", cluster, "--workers", "2", "--batch-size", "4",
           "--calibration", "none", "--json", "-w", str(workspace.root)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=cli_env() | ray_env(),
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["engine"] == "ray" and out["samples"] == out["predicted"] == 12
    assert out["field"] == "pred_c" and out["boxes"] > 0
    assert workspace.samples.count_documents({"pred_c": {"$exists": True}}) == 12


@pytest.mark.slow
@pytest.mark.integration
def test_cli_without_a_cluster_says_so_without_a_traceback(workspace: Any,
                                                           tmp_path: Path) -> None:
    pytest.importorskip("ray")
    _ingest(workspace, tmp_path, demo_images("test", n=2))
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    cmd = [sys.executable, "-m", "workbench", "predict", "--model", CHECKPOINT, "--engine",
           "ray", "--address", address, "--json", "-w", str(workspace.root)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=cli_env() | ray_env(),
                          timeout=300, cwd=tmp_path)
    assert done.returncode != 0
    assert f"no Ray cluster answers at {address}" in done.stderr
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr
    assert workspace.samples.count_documents({"pred_c": {"$exists": True}}) == 0
