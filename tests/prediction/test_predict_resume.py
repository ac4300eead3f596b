"""``predict`` killed half-way keeps its finished chunks; ``predict --resume`` goes on (issue 20).

A real CLI process is SIGKILLed once some chunks are stored; the next command rolls back only
the chunk in flight, the run is left ``interrupted``, and ``--resume`` predicts the rest. The
result is the same as one uninterrupted run, box for box.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymongo
import pytest
import yaml

from tests.conftest import DEMO, REPO, cli_env, demo_images
from tests.crash.harness import wb, wb_json
from tests.store.replset_support import embedded_uri, samples

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHECKPOINT = str(DEMO / "weights" / "yolov8n-224.pt")
N = 64
CHUNK = 8
COMMON = ["--model", CHECKPOINT, "--chunk", str(CHUNK), "--batch", "4",
          "--calibration", "none"]


def boxes(coll: Any, field: str) -> dict[str, list[tuple[Any, ...]]]:
    """Per image, its boxes of ``field`` as sorted ``(label, x, y, w, h, confidence)``."""
    return {d["filepath"]: sorted(
        (b["label"], *(round(v, 5) for v in b["bounding_box"]), round(b["confidence"], 5))
        for b in (d.get(field) or {}).get("detections", []))
        for d in coll.find({field: {"$exists": True}}, {"filepath": 1, field: 1})}


def test_killed_predict_keeps_its_chunks_and_resume_finishes_it(stop_mongods: Path) -> None:
    ws = stop_mongods / "ws"
    pool = stop_mongods / "pool"
    pool.mkdir()
    for p in demo_images("train", N):
        (pool / p.name).symlink_to(p)
    wb("init", str(ws), "--classes", ",".join(yaml.safe_load(
        (DEMO / "data.yaml").read_text())["names"]))
    wb("ingest", str(pool), "--format", "images", "-w", str(ws))
    db = pymongo.MongoClient(embedded_uri(ws))["fiftyone"]
    coll = samples(db, yaml.safe_load((ws / "workbench.yaml").read_text())["name"])
    args = ["predict", *COMMON, "--run", "r", "-w", str(ws)]
    kill_after_two_chunks(args, coll)
    recovered = wb("recover", "-w", str(ws))
    kept = coll.count_documents({"pred_r": {"$exists": True}})
    # the chunk being stored when killed is rolled back; the ones before it are kept
    assert kept % CHUNK == 0 and CHUNK <= kept < N, (kept, recovered.stdout)
    assert coll.count_documents({"show_r": {"$exists": True}}) == kept
    run = next(r for r in wb_json("runs", "-w", str(ws)) if r["run"] == "r")
    assert run["status"] == "interrupted", run
    refused = wb("predict", *COMMON, "--run", "r", "-w", str(ws), check=False)
    assert refused.returncode != 0 and "--resume" in refused.stderr
    resumed = wb_json(*args, "--resume")
    assert (resumed["predicted"], resumed["skipped"], resumed["samples"]) == (N - kept, kept, N)
    whole = wb_json("predict", *COMMON, "--run", "whole", "-w", str(ws))
    assert boxes(coll, "pred_r") == boxes(coll, "pred_whole")
    assert len(boxes(coll, "pred_r")) == N and resumed["boxes"] == whole["boxes"]
    assert resumed["uncertainty_fields"] == [f.replace("whole", "r")
                                             for f in whole["uncertainty_fields"]]
    run = next(r for r in wb_json("runs", "-w", str(ws)) if r["run"] == "r")
    assert run["status"] == "completed"
    assert db.workbench_journal.count_documents({}) == 0
    # --replace killed half-way: the old boxes are gone, so --resume predicts the rest again
    kill_after_two_chunks([*args, "--replace"], coll, fresh=True)
    wb("recover", "-w", str(ws))
    kept = coll.count_documents({"pred_r": {"$exists": True}})
    assert CHUNK <= kept < N
    again = wb_json(*args, "--resume")
    assert (again["predicted"], again["skipped"]) == (N - kept, kept)
    assert boxes(coll, "pred_r") == boxes(coll, "pred_whole")


def kill_after_two_chunks(args: list[str], coll: Any, fresh: bool = False) -> None:
    """Run ``workbench ARGS`` and SIGKILL it once two chunks of ``pred_r`` are stored (with
    ``fresh``: once the old ones are gone and two new chunks are stored)."""
    proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], env=cli_env(),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    if fresh:  # the run is recorded `running` only once every old box is gone (the unset
        # of 64 documents is not atomic: counting mid-way would see old boxes as new ones)
        runs = coll.database["workbench_runs"]
        while (runs.find_one({"_id": "r"}) or {}).get("status") != "running":
            assert proc.poll() is None and time.time() < deadline, "old boxes not cleared"
            time.sleep(0.05)
    while coll.count_documents({"pred_r": {"$exists": True}}) < 2 * CHUNK:
        assert proc.poll() is None, "predict ended before it could be killed"
        assert time.time() < deadline, "no chunk stored within 300 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_resume_counts_the_boxes_in_the_store_not_the_run_record(workspace: Any,
                                                                 tmp_path: Path) -> None:
    """A kill between the run record's update and the chunk's checkpoint leaves a box count
    that includes the chunk rolled back; the resumed run's count must not inherit it."""
    from workbench.ingestion.ingest import ingest
    from workbench.prediction.predict import predict
    from workbench.store import runs

    workspace.add_classes(yaml.safe_load((DEMO / "data.yaml").read_text())["names"])
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("valid", 12):
        (pool / p.name).symlink_to(p)
    ingest(workspace, pool, "images")
    common: dict[str, Any] = {"batch": 4, "chunk": 4, "calibration": "none"}
    whole = predict(workspace, CHECKPOINT, run="r", **common)
    lost = [d["_id"] for d in workspace.samples.find({}, {"_id": 1}).limit(4)]
    workspace.samples.update_many({"_id": {"$in": lost}}, {"$unset": {"pred_r": "", "show_r": ""}})
    runs.update_run(workspace, "r", set_={"status": "interrupted"})  # outputs: still all boxes
    resumed = predict(workspace, CHECKPOINT, run="r", resume=True, **common)
    assert (resumed.predicted, resumed.skipped) == (4, 8)
    assert resumed.boxes == whole.boxes == sum(
        len((d.get("pred_r") or {}).get("detections") or [])
        for d in workspace.samples.find({}, {"pred_r": 1}))
