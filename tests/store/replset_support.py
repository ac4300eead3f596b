"""Helpers and constants of the replica-set tests (their fixtures are in ``conftest.py``).

The test process reads the store with pymongo only; every workspace command runs in its own
``python -m workbench`` process (the test process must not hold FiftyOne's
one-connection-per-process state).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import CLASSES
from tests.crash.harness import wb_json

N_LABELED = 30
N_POOL = 60
FAILOVER_BOXES = 50  # per image: 4,500 boxes with class vectors in the failover import
BUSY_BOXES = 800  # per image: a long import (72,000 boxes) for the two-process test
RUNS = "workbench_runs"
#: Seconds a command may go on after the election, with the killed member still down.
COMMAND_GRACE = 90.0


def log(message: str) -> None:
    print(f"[replset] {message}", file=sys.stderr, flush=True)


def predictions_file(path: Path, images: list[Path], boxes: int, seed: int) -> Path:
    """A ``predictions import`` file: ``boxes`` random boxes with class vectors per image."""
    rng = np.random.default_rng(seed)
    with path.open("w") as fh:
        for img in images:
            probs = rng.dirichlet(np.ones(len(CLASSES)), boxes)
            xy = rng.uniform(0.0, 0.7, (boxes, 2))
            wh = rng.uniform(0.05, 0.3, (boxes, 2))
            dets = [{"label": CLASSES[int(p.argmax())], "box": [*xy[k].tolist(), *wh[k].tolist()],
                     "confidence": round(float(p.max()), 6), "class_probs": p.round(6).tolist()}
                    for k, p in enumerate(probs)]
            fh.write(json.dumps({"filepath": str(img.resolve()), "detections": dets}) + "\n")
    return path


def build(ws: Path, data: dict[str, Any], uri: str | None) -> dict[str, Any]:
    """init (on ``uri``, else the embedded mongod), ingest labeled + pool, split: the outputs."""
    args = ["--database-uri", uri] if uri else []
    return {"init": wb_json("init", str(ws), *args),
            "ingest": wb_json("ingest", str(data["labeled"]), "--format", "yolo", "-w", str(ws)),
            "pool": wb_json("ingest", str(data["pool"]), "--format", "yolo", "--unlabeled",
                            "-w", str(ws)),
            "split": wb_json("split", "--seed", "3", "-w", str(ws))}


def database(uri: str) -> Any:
    """The workspaces' database on ``uri``, read with pymongo (from the primary)."""
    import pymongo

    client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=60_000)
    return client["fiftyone"]


def embedded_uri(ws: Path) -> str:
    """The URI of a workspace's own (standalone) mongod, from its state file."""
    state = next(ws.rglob("workbench-mongod.json"))
    return f"mongodb://127.0.0.1:{json.loads(state.read_text())['port']}"


def samples(db: Any, dataset: str) -> Any:
    """The raw sample collection of FiftyOne dataset ``dataset``."""
    doc = db.datasets.find_one({"name": dataset}, {"sample_collection_name": 1})
    return db[doc["sample_collection_name"]]


def expected_boxes(path: Path) -> dict[str, list[tuple[float, ...]]]:
    """Per file path, the sorted ``(x, y, w, h, confidence)`` of a predictions file."""
    out = {}
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        out[obj["filepath"]] = sorted(tuple(round(v, 9) for v in (*d["box"], d["confidence"]))
                                      for d in obj["detections"])
    return out


def stored_boxes(coll: Any, field: str) -> dict[str, list[tuple[float, ...]]]:
    """Per file path, the sorted ``(x, y, w, h, confidence)`` of ``field``'s boxes."""
    out = {}
    for doc in coll.find({}, {"filepath": 1, field: 1}):
        dets = (doc.get(field) or {}).get("detections", [])
        out[doc["filepath"]] = sorted(
            tuple(round(v, 9) for v in (*d["bounding_box"], d["confidence"])) for d in dets)
    return out


def wait_for(predicate: Any, proc: subprocess.Popen[str], timeout: float = 120) -> bool:
    """Poll ``predicate()`` until true (True) or until ``proc`` ends first (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the command to reach its writes")


def kill_primary(rs: Any) -> tuple[Any, float]:
    """SIGKILL the primary of set ``rs`` (``replset.read``'s): ``(the killed member,
    time.perf_counter() at the kill)``."""
    from workbench.store import replset as rs_mod

    victim = rs_mod.primary(rs)
    assert victim is not None and victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    return victim, time.perf_counter()
