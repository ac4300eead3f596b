"""Label changes as multi-document transactions on the replica set (``conftest.py``'s).

An annotation import, its undo and a selection round each commit one transaction (the
primary's ``serverStatus`` counts them); a half-done transaction is invisible to other readers
and leaves nothing when it fails; an attempt aborted by a transient error (a failover) runs
again; and the primary killed during ``annotate import`` costs nothing: the command finishes
after the election (or fails cleanly and a re-run finishes) with every box exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, cli_env
from tests.crash.harness import Round, annotation_round, make_dataset, wb, wb_json
from tests.store.replset_support import (
    COMMAND_GRACE,
    database,
    kill_primary,
    log,
    samples,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

N_IMAGES = 400
BOXES = 10  # per image: 4,000 boxes in the import the failover test kills the primary under

#: Run in a process of its own (FiftyOne keeps one connection per process): the transaction
#: API on the workspace ``argv[1]``; prints what it saw as JSON.
IN_PROCESS = """
import json, os, sys
from pymongo import MongoClient
from pymongo.errors import PyMongoError
import workbench as wb
from workbench.store import journal, lock, transaction

ws = wb.open_workspace(sys.argv[1])
outside = MongoClient(sys.argv[2])[ws.db.name][ws.sample_collection_name]
ids = [d["_id"] for d in outside.find({}, {"_id": 1}).sort("_id", 1).limit(5)]
out = {"supported": transaction.supported(ws), "attempts": 0}

def tag(name):
    ws.samples.update_many({"_id": {"$in": ids}}, {"$push": {"tags": name}})

def flaky():
    out["attempts"] += 1
    tag("txn")
    if out["attempts"] == 1:
        out["journal_off"] = journal.active(ws) is None
        out["inside"] = ws.samples.count_documents({"tags": "txn"})
        out["outside"] = outside.count_documents({"tags": "txn"})
        raise PyMongoError("a failover", error_labels=["TransientTransactionError"])
    return "done"

def failing():
    tag("gone")
    raise ValueError("boom")

def large():
    out["large_journal_on"] = journal.active(ws) is not None
    tag("large")

with lock.hold(ws, "txn-test"):
    out["result"] = transaction.atomic(ws, flaky, samples=len(ids))
try:
    with lock.hold(ws, "txn-test"):
        transaction.atomic(ws, failing, samples=len(ids))
except ValueError:
    out["raised"] = True
os.environ["WORKBENCH_TXN_MAX_SAMPLES"] = "4"  # 5 samples: the journal's path
with lock.hold(ws, "txn-test"):
    transaction.atomic(ws, large, samples=len(ids))
del os.environ["WORKBENCH_TXN_MAX_SAMPLES"]

@lock.writes
def verb(ws):
    return transaction.atomic(ws, lambda: journal.active(ws) is not None, samples=1)

@lock.writes
def caller(ws):  # as `loop next` calls select: the round is one change, under the journal
    return verb(ws)

out["nested_journal_on"], out["sole_journal_on"] = caller(ws), verb(ws)
out["tags"] = [d["tags"] for d in outside.find({"_id": {"$in": ids}})]
outside.update_many({"_id": {"$in": ids}}, {"$pull": {"tags": {"$in": ["txn", "large"]}}})
print(json.dumps(out))
"""


def committed(db: Any) -> int:
    """Transactions the primary has committed since it started."""
    return int(db.client.admin.command("serverStatus")["transactions"]["totalCommitted"])


def labeled_boxes(coll: Any) -> tuple[int, int, int]:
    """``(labeled samples, their boxes, samples in annotation)``."""
    labeled = list(coll.find({"status": "labeled"}, {"ground_truth.detections.label": 1}))
    boxes = sum(len((d.get("ground_truth") or {}).get("detections", [])) for d in labeled)
    return len(labeled), boxes, coll.count_documents({"status": "in_annotation"})


@pytest.fixture(scope="module")
def rnd(replset: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
        ) -> Round:
    """A second workspace on the set: every image of a generated set exported for labels."""
    root = tmp_path_factory.mktemp("txn")
    data = make_dataset(root / "data", N_IMAGES, BOXES, seed=11)
    return annotation_round(root, data, N_IMAGES, "--database-uri", replset[1]["uri"])


def test_transaction_is_all_or_nothing_and_retried_after_a_transient_error(
        replset: tuple[Path, dict[str, Any]], rs_workspace: tuple[Path, dict[str, Any]]) -> None:
    """Inside, the journal is off and the writes are seen by the transaction only; a transient
    error (as a failover raises) aborts the attempt and the body runs again, so the write lands
    once; a failing body leaves nothing; a change over the size limit, or made by a verb that
    another verb called, takes the journal's path."""
    ws, _ = rs_workspace
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, str(ws), replset[1]["uri"]],
                          capture_output=True, text=True, env=cli_env(), timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["supported"] and out["journal_off"]
    assert (out["inside"], out["outside"]) == (5, 0)
    assert out["attempts"] == 2 and out["result"] == "done"
    assert out["raised"] and out["large_journal_on"]
    assert out["nested_journal_on"] and not out["sole_journal_on"]
    assert all(tags.count("txn") == 1 and "gone" not in tags and tags.count("large") == 1
               for tags in out["tags"]), out["tags"]


def test_import_undo_and_select_each_commit_one_transaction(
        replset: tuple[Path, dict[str, Any]], rs_workspace: tuple[Path, dict[str, Any]],
        rnd: Round) -> None:
    """``annotate import``, ``annotate undo`` and ``select`` on the set each commit a
    transaction and give the results they give on a standalone mongod."""
    db = database(replset[1]["uri"])
    coll = samples_of(db, rnd.ws)
    before = committed(db)
    imported = wb_json("annotate", "import", str(rnd.answers), "--package", str(rnd.package),
                       "-w", str(rnd.ws))
    assert committed(db) - before >= 1
    assert (imported["images"], imported["boxes"]) == (N_IMAGES, N_IMAGES * BOXES)
    assert labeled_boxes(coll) == (N_IMAGES, N_IMAGES * BOXES, 0)
    before = committed(db)
    undone = wb_json("annotate", "undo", imported["import_id"], "-w", str(rnd.ws))
    assert committed(db) - before >= 1 and undone["restored"] == N_IMAGES
    assert labeled_boxes(coll) == (0, 0, N_IMAGES)
    ws, _ = rs_workspace
    before = committed(db)
    chosen = wb_json("select", "--random", "5", "--round", "txn-round", "--seed", "1",
                     "-w", str(ws))
    assert committed(db) - before >= 1 and chosen["selected"] == 5
    assert samples_of(db, ws).count_documents({"round_selected": "txn-round",
                                               "status": "queued"}) == 5
    assert db.workbench_journal.count_documents({}) == 0


def in_transaction(db: Any) -> bool:
    """Whether a transaction is open on the primary (one of the workspace's commands')."""
    ops = db.client.admin.aggregate([{"$currentOp": {"idleSessions": True}},
                                     {"$match": {"transaction": {"$exists": True}}}])
    return next(ops, None) is not None


def test_primary_killed_during_annotate_import(
        replset: tuple[Path, dict[str, Any]], rnd: Round) -> None:
    """SIGKILL the primary while ``annotate import`` of 4,000 boxes is in its transaction:
    the command finishes after the election or fails cleanly and a re-run finishes; every image
    then has exactly its boxes, once, and the import undoes to where it was."""
    from workbench.store import replset as rs_mod

    folder, info = replset
    db = database(info["uri"])
    coll = samples_of(db, rnd.ws)
    assert labeled_boxes(coll) == (0, 0, N_IMAGES)
    rs = rs_mod.read(folder)
    assert rs is not None
    args = ["annotate", "import", str(rnd.answers), "--package", str(rnd.package), "--json",
            "-w", str(rnd.ws)]
    victim = None
    try:
        with tempfile.TemporaryFile("w+") as err_fh, tempfile.TemporaryFile("w+") as out_fh:
            proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                                    stdout=out_fh, stderr=err_fh, env=cli_env(), cwd=REPO)
            writing = wait_for(lambda: in_transaction(db), proc)
            victim, killed_at = kill_primary(rs)
            log(f"killed primary {victim.host}; the import was "
                f"{'in its transaction' if writing else 'already done'}")
            try:
                proc.wait(timeout=COMMAND_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"annotate import hung {COMMAND_GRACE:.0f} s after the "
                                     "failover") from None
            err_fh.seek(0)
            out_fh.seek(0)
            stderr, stdout = err_fh.read(), out_fh.read()
        log(f"the import ended {time.perf_counter() - killed_at:.1f}s after the kill with rc "
            f"{proc.returncode} {stderr.strip()[-300:]!r}")
        if proc.returncode != 0:  # failed cleanly: one message, no traceback; a re-run finishes
            assert "Traceback" not in stderr and "error:" in stderr, stderr
            stdout = wb(*args).stdout
        result = json.loads(stdout)
        db = database(info["uri"])  # the new primary
        coll = samples_of(db, rnd.ws)
        assert labeled_boxes(coll) == (N_IMAGES, N_IMAGES * BOXES, 0)
        assert db.workbench_journal.count_documents({}) == 0
        wb_json("annotate", "undo", result["import_id"], "-w", str(rnd.ws))
        assert labeled_boxes(coll) == (0, 0, N_IMAGES)
    finally:  # the killed member re-joins
        again = wb_json("db", "start-replset", str(folder))
    assert sorted(again["states"]) == ["PRIMARY", "SECONDARY", "SECONDARY"]


def samples_of(db: Any, ws: Path) -> Any:
    """The sample collection of the workspace in folder ``ws``."""
    import yaml

    return samples(db, yaml.safe_load((ws / "workbench.yaml").read_text())["name"])
