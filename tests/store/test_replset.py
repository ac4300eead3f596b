"""The store on a real 3-member replica set (FiftyOne's mongod), driven through the CLI.

One set is started for the session (``conftest.py``) with ``workbench db start-replset`` and
stopped at the end. Every workspace command runs in its own ``python -m workbench`` process;
the test process reads the store with pymongo only (it must not hold FiftyOne's
one-connection-per-process state).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from tests.conftest import REPO, cli_env
from tests.crash.harness import wb, wb_json
from tests.store.replset_support import (
    COMMAND_GRACE,
    N_LABELED,
    N_POOL,
    RUNS,
    database,
    embedded_uri,
    expected_boxes,
    kill_primary,
    log,
    samples,
    stored_boxes,
    wait_for,
)
from workbench.store.mongod import pid_alive

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_start_replset_json(replset: tuple[Path, dict[str, Any]]) -> None:
    """``--json`` has the URI with every member and the set's name, and 3 live pids."""
    folder, info = replset
    assert info["uri"].startswith("mongodb://127.0.0.1:")
    assert info["uri"].endswith("/?replicaSet=rs0")
    assert info["uri"].count("127.0.0.1:") == 3
    assert len(info["pids"]) == 3
    assert all(os.path.exists(f"/proc/{pid}") for pid in info["pids"])
    assert sorted(info["states"]) == ["PRIMARY", "SECONDARY", "SECONDARY"]
    assert json.loads((folder / "replset.json").read_text())["uri"] == info["uri"]
    status = wb_json("db", "status", str(folder))
    assert status["pids"] == info["pids"]


STANDALONE = """
import json, sys
from pathlib import Path
import workbench as wb
ws_dir, labeled, pool, small = sys.argv[1:]
out = {"init": wb.init(Path(ws_dir)).to_dict()}
ws = wb.open_workspace(Path(ws_dir))
out["ingest"] = wb.ingest(ws, labeled, "yolo").to_dict()
out["pool"] = wb.ingest(ws, pool, "yolo", unlabeled=True).to_dict()
out["split"] = wb.split(ws, seed=3).to_dict()
out["import"] = wb.import_predictions(ws, path=Path(small), run="small").to_dict()
out["select"] = wb.select(ws, n=10, strategy="random", seed=5).to_dict()
del out["select"]["scores"]  # as the CLI's --json
out["status"] = wb.status(ws).to_dict()
print(json.dumps(out, default=str))
"""

NORMALIZE = {"workspace", "dataset", "database", "seconds", "run", "run_id", "id", "created",
             "started", "ended", "path", "name", "round", "workspace_dir", "started_at",
             "finished_at", "created_at"}


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two normalized outputs differ (``key.key[i]: a != b``), for the failure message."""
    a, b = normalize(a), normalize(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"[:300]]


def normalize(value: Any) -> Any:
    """``value`` without what differs between two workspaces (names, paths, ids, times)."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k not in NORMALIZE}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def test_same_results_as_standalone(rs_workspace: tuple[Path, dict[str, Any]],
                                    data: dict[str, Any], tmp_path: Path,
                                    stop_mongods: Path) -> None:
    """ingest, split, predictions import, select --random and status give what they give on
    the embedded (standalone) mongod."""
    rs_ws, rs_out = rs_workspace
    rs_out["import"] = wb_json("predictions", "import", str(data["small"]), "--run", "small",
                               "-w", str(rs_ws))
    rs_out["select"] = wb_json("select", "--random", "10", "--seed", "5", "-w", str(rs_ws))
    rs_out["status"] = wb_json("status", "-w", str(rs_ws))
    # the same calls on the embedded (standalone) mongod, in one process to save time
    solo_ws = tmp_path / "ws_solo"
    baseline = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(solo_ws), str(data["labeled"]),
         str(data["pool"]), str(data["small"])],
        capture_output=True, text=True, env=cli_env(), timeout=300, cwd=REPO)
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    solo_out = json.loads(baseline.stdout)
    assert "replicaSet=rs0" in rs_out["status"]["database"]
    for outs, uri in ((rs_out, rs_out["init"]["database"]), (solo_out, embedded_uri(solo_ws))):
        db = database(uri)
        coll = samples(db, outs["init"]["dataset"])
        ids = [ObjectId(i) for i in outs["select"].pop("sample_ids")]
        by_id = {d["_id"]: d["filepath"] for d in coll.find({"_id": {"$in": ids}})}
        outs["selected_files"] = [by_id[i] for i in ids]
        db.client.close()
    assert rs_out["selected_files"] == solo_out["selected_files"]
    for key in ("ingest", "pool", "split", "import", "select", "status"):
        assert normalize(rs_out[key]) == normalize(solo_out[key]), (
            key, differences(rs_out[key], solo_out[key]))
    assert rs_out["import"]["boxes"] == 8 * (N_LABELED + N_POOL)
    assert rs_out["status"]["samples"] == N_LABELED + N_POOL


def test_primary_killed_during_predictions_import(
        replset: tuple[Path, dict[str, Any]], rs_workspace: tuple[Path, dict[str, Any]],
        data: dict[str, Any]) -> None:
    """SIGKILL the primary while ``predictions import`` writes 4,500 boxes: the command
    finishes after the election or fails cleanly and a re-run finishes; every sample then has
    exactly its boxes. The killed member is restarted and re-joins."""
    from workbench.store import replset as rs_mod

    folder, info = replset
    ws, outs = rs_workspace
    dataset = outs["init"]["dataset"]
    db = database(info["uri"])
    rs = rs_mod.read(folder)
    assert rs is not None
    args = ["predictions", "import", str(data["failover"]), "--run", "failover", "--replace",
            "-w", str(ws)]
    victim = None
    try:
        with tempfile.TemporaryFile("w+") as err_fh:
            proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                                    stdout=subprocess.DEVNULL, stderr=err_fh, env=cli_env(),
                                    cwd=REPO)
            # the moment it has registered its field in the operation journal: writes follow
            writing = wait_for(lambda: db.workbench_journal.find_one(
                {"dataset": dataset, "actions.fields": "pred_failover"}) is not None, proc)
            victim, killed_at = kill_primary(rs)
            log(f"killed primary {victim.host} (pid {victim.pid}); the import was "
                f"{'writing' if writing else 'already done'}")
            new_primary = None
            while new_primary is None or new_primary.index == victim.index:
                assert time.perf_counter() - killed_at < 60, "no new primary within 60 s"
                time.sleep(0.1)
                new_primary = rs_mod.primary(rs)
            election = time.perf_counter() - killed_at
            try:  # with the killed member still down
                proc.wait(timeout=COMMAND_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    f"the import hung {COMMAND_GRACE:.0f} s after the failover (an index build "
                    "waiting for the dead member? createIndexes needs commitQuorum='majority': "
                    "workbench.store.connection.index_options)") from None
            ended = time.perf_counter() - killed_at
            err_fh.seek(0)
            stderr = err_fh.read()
        log(f"new primary {new_primary.host} after {election:.1f}s; the import ended "
            f"{ended:.1f}s after the kill with rc {proc.returncode} {stderr.strip()[-300:]!r}")
        if proc.returncode != 0:  # failed cleanly: one message, no traceback; a re-run finishes
            assert "Traceback" not in stderr and "error:" in stderr, stderr
            rerun = wb_json(*args)
            log(f"the re-run imported {rerun['boxes']} boxes")
        coll = samples(db, dataset)
        assert stored_boxes(coll, "pred_failover") == expected_boxes(data["failover"])
        assert db.workbench_journal.count_documents({}) == 0
        assert db[RUNS].count_documents({"dataset": dataset, "_id": "failover"}) == 1
        assert wb_json("status", "-w", str(ws))["samples"] == N_LABELED + N_POOL
    finally:  # the killed member re-joins: start-replset restarts the members that are down
        t0 = time.perf_counter()
        again = wb_json("db", "start-replset", str(folder))
        log(f"killed member re-joined in {time.perf_counter() - t0:.1f}s")
    assert len(again["pids"]) == 3 and (victim is None or victim.pid not in again["pids"])
    assert sorted(again["states"]) == ["PRIMARY", "SECONDARY", "SECONDARY"]


def test_two_processes_on_one_workspace(replset: tuple[Path, dict[str, Any]],
                                        rs_workspace: tuple[Path, dict[str, Any]],
                                        data: dict[str, Any]) -> None:
    """While ``predictions import`` writes, ``status`` reads and a second writer is told the
    workspace is busy (exit code 75), naming the holder."""
    ws, outs = rs_workspace
    dataset = outs["init"]["dataset"]
    db = database(replset[1]["uri"])
    args = ["predictions", "import", str(data["busy"]), "--run", "busy", "--replace",
            "-w", str(ws)]
    with tempfile.TemporaryFile("w+") as err_fh:
        writer = subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                                  stdout=subprocess.PIPE, stderr=err_fh, env=cli_env(), cwd=REPO)
        assert wait_for(lambda: db.workbench_locks.find_one({"_id": dataset}) is not None,
                         writer)
        reader = subprocess.Popen([sys.executable, "-m", "workbench", "status", "--json", "-w",
                                   str(ws)], text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=cli_env(), cwd=REPO)
        second = wb("split", "--seed", "3", "-w", str(ws), check=False)
        r_out, r_err = reader.communicate(timeout=120)
        writer.communicate(timeout=300)
        err_fh.seek(0)
        w_err = err_fh.read()
    assert writer.returncode == 0, w_err
    assert second.returncode == 75, (second.returncode, second.stderr)
    assert "workspace busy" in second.stderr and "predictions import" in second.stderr
    assert "Traceback" not in second.stderr
    assert reader.returncode == 0, r_err
    assert json.loads(r_out)["samples"] == N_LABELED + N_POOL
    assert db.workbench_locks.find_one({"_id": dataset}) is None


def test_stop_is_idempotent_and_start_brings_the_set_back(
        replset: tuple[Path, dict[str, Any]]) -> None:
    """``db stop`` ends every member (twice is fine); ``start-replset`` restarts the same set."""
    folder, _ = replset
    before = wb_json("db", "status", str(folder))
    stopped = wb_json("db", "stop", str(folder))
    assert sorted(stopped["stopped"]) == sorted(before["pids"])
    assert not any(pid_alive(pid) for pid in before["pids"])
    assert wb_json("db", "stop", str(folder))["stopped"] == []
    assert wb("db", "stop", str(folder)).stdout.strip() == "not running"
    again = wb_json("db", "start-replset", str(folder))
    assert again["uri"] == before["uri"] and len(again["pids"]) == 3


@pytest.mark.parametrize(("uri", "expected"), [
    ("mongodb://h1,h2,h3/?replicaSet=rs0",
     "mongodb://h1,h2,h3/?replicaSet=rs0&w=majority&retryWrites=true&retryReads=true"),
    ("mongodb://h1/db?replicaSet=rs0&W=2&retrywrites=false",
     "mongodb://h1/db?replicaSet=rs0&W=2&retrywrites=false&retryReads=true"),
    ("mongodb://u:p@h1:27017,h2:27017",
     "mongodb://u:p@h1:27017,h2:27017/?w=majority&retryWrites=true&retryReads=true"),
    ("mongodb+srv://cluster.example.com/", "mongodb+srv://cluster.example.com/"
     "?w=majority&retryWrites=true&retryReads=true"),
    ("mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"),  # standalone: unchanged
    ("mongodb://127.0.0.1:5/?serverSelectionTimeoutMS=10000",
     "mongodb://127.0.0.1:5/?serverSelectionTimeoutMS=10000"),
])
def test_replica_set_options_only_where_the_uri_does_not_set_them(uri: str,
                                                                  expected: str) -> None:
    from workbench.store.connection import with_replica_set_options

    assert with_replica_set_options(uri) == expected
