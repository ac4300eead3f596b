"""The operation journal on a real mongod: what a killed command leaves is rolled back.

A kill is reproduced in-process: the writes run inside a journal operation that is then
abandoned exactly as a SIGKILL leaves it (journal document kept, lock gone). The real-process
kills are in ``tests/crash``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.annotation import writers
from tests.annotation.conftest import RoundWorkspace, build_round
from tests.annotation.test_package_import import _export, _truth
from tests.conftest import demo_images, make_yolo
from workbench.annotation.importer import import_annotations, undo_import
from workbench.curation.api import check, recover, status
from workbench.errors import InterruptedOperationError, WorkbenchError, WorkspaceBusyError
from workbench.ingestion.ingest import ingest
from workbench.prediction.imported import import_predictions
from workbench.selection.select import SelectConfig, select
from workbench.store import journal, labels, lock, predictions, runs, schema
from workbench.store.config import WorkspaceConfig

pytestmark = pytest.mark.integration


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@contextlib.contextmanager
def killed(ws: Any, command: str = "workbench fake --kill") -> Iterator[None]:
    """Run the block as a writing command, then leave the journal and the lock as a SIGKILL
    would: the operation unfinished, the lock held by a process that is gone."""
    token = lock._acquire(ws, command, 0)
    lock._held[lock._key(ws)] = lock._Held(token, 1, ws)
    op = journal.begin(ws, command, token)
    try:
        yield
    finally:
        journal.abandon(op)
        del lock._held[lock._key(ws)]
        ws.db[lock.LOCKS_COLLECTION].update_one({"_id": ws.config.name},
                                                {"$set": {"pid": _dead_pid()}})


def state(ws: Any) -> dict[str, Any]:
    """Every sample (all fields but the modification time), the run records, the classes."""
    samples = {str(d.pop("_id")): json.dumps(d, sort_keys=True, default=str)
               for d in ws.samples.find({}, {"last_modified_at": 0})}
    records = {d.pop("_id"): json.dumps(d, sort_keys=True, default=str)
               for d in ws.runs.find({"dataset": ws.config.name})}
    return {"samples": samples, "runs": records, "classes": list(ws.config.classes),
            "yaml": WorkspaceConfig.load(ws.root).classes,
            "indexes": sorted(ws.samples.index_information())}


def recovered_once(ws: Any) -> journal.Recovery:
    with pytest.raises(InterruptedOperationError, match="workbench recover"):
        status(ws)
    with pytest.raises(InterruptedOperationError, match="workbench fake --kill"):
        check(ws)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "took over a stale workspace lock"
        result = recover(ws)
    assert len(result.recovered) == 1 and result.recovered[0].command == "workbench fake --kill"
    assert journal.pending(ws) == [] and recover(ws).recovered == []
    assert not [c for c in ws.db.list_collection_names() if c.startswith(journal.SAVED_PREFIX)]
    status(ws)
    return result.recovered[0]


@pytest.fixture
def rw(workspace: Any, tmp_path: Path) -> RoundWorkspace:
    return build_round(workspace, tmp_path)


def test_killed_ingest_removes_its_samples_and_classes(workspace: Any, tmp_path: Path) -> None:
    ws = workspace
    first = make_yolo(tmp_path / "a", {"train": demo_images("train", 3)})
    ingest(ws, first, "yolo")
    before = state(ws)
    images = demo_images("valid", 4)
    second = make_yolo(tmp_path / "b", {"val": images}, names=[*ws.classes, "octopus"],
                       labels={images[0].stem: "7 0.5 0.5 0.2 0.2\n"})
    with killed(ws):
        ingest(ws, second, "yolo", add_classes=True)
    assert "octopus" in ws.config.classes and ws.samples.count_documents({}) == 7
    report = recovered_once(ws)
    assert report.samples_deleted == 4 and report.classes_restored
    assert state(ws) == before
    again = ingest(ws, second, "yolo", add_classes=True)  # the re-run finishes the work
    assert again.added == 4 and ws.samples.count_documents({}) == 7


def test_killed_import_is_rolled_back_and_a_rerun_stays_undoable(rw: RoundWorkspace) -> None:
    """The defect of issue 13: kill in the write phase, re-run, undo -> back to before."""
    pkg, manifest = _export(rw)
    before = state(rw.ws)
    path = writers.coco(_truth(rw, manifest), rw.tmp / "answers.json")
    with killed(rw.ws):
        import_annotations(rw.ws, path, package=pkg)
    assert rw.ws.samples.count_documents({schema.STATUS: "labeled"}) > 8
    report = recovered_once(rw.ws)
    assert report.samples_restored == 5 and report.runs >= 1
    after_recovery = state(rw.ws)
    assert after_recovery["samples"] == before["samples"]
    import_run = [r for r in runs.list_runs(rw.ws, "annotate-import")]
    assert [r["status"] for r in import_run] == ["rolled-back"]
    with pytest.raises(WorkbenchError, match="did not complete"):
        undo_import(rw.ws, import_run[0]["_id"])
    result = import_annotations(rw.ws, path, package=pkg)
    assert result.images == 5
    undo_import(rw.ws, result.import_id)
    assert state(rw.ws)["samples"] == before["samples"]


def test_failed_write_rolls_back_at_once(rw: RoundWorkspace,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, manifest = _export(rw)
    before = state(rw.ws)["samples"]
    path = writers.coco(_truth(rw, manifest), rw.tmp / "answers.json")
    real = labels.write_ground_truth

    def write_then_fail(*args: Any) -> None:
        real(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(labels, "write_ground_truth", write_then_fail)
    with pytest.raises(WorkbenchError, match="rolled back"):
        import_annotations(rw.ws, path, package=pkg)
    assert state(rw.ws)["samples"] == before and journal.pending(rw.ws) == []
    assert [r["status"] for r in runs.list_runs(rw.ws, "annotate-import")] == ["failed"]


def _predictions(rw: RoundWorkspace, shift: float) -> Path:
    lines = [json.dumps({"filepath": fp, "detections": [
        {"label": label, "box": [min(0.5, b[0] + shift), b[1], b[2] / 2, b[3] / 2],
         "confidence": 0.9}
        for label, b in boxes]}) for fp, boxes in rw.truth.items()]
    path = rw.tmp / f"preds-{shift}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_killed_predictions_import_of_a_new_run_leaves_no_field(rw: RoundWorkspace) -> None:
    before = state(rw.ws)
    with killed(rw.ws):
        import_predictions(rw.ws, _predictions(rw, 0.02), "p2")
    assert rw.ws.samples.count_documents({"pred_p2": {"$exists": True}}) == 8
    report = recovered_once(rw.ws)
    keys = rw.ws.samples.find_one({"scores_p1": {"$exists": True}})["scores_p1"]
    unc = {predictions.uncertainty_field("p2", k) for k in keys}  # the scores as App fields
    assert set(report.fields_unset) == {"pred_p2", "show_p2", "scores_p2", *unc}
    assert not [n for n in rw.ws.samples.index_information() if "p2" in n]
    assert state(rw.ws) == before


def test_killed_replace_restores_the_earlier_predictions(rw: RoundWorkspace) -> None:
    before = state(rw.ws)
    with killed(rw.ws):
        import_predictions(rw.ws, _predictions(rw, 0.05), "p1", replace=True)
    assert state(rw.ws)["samples"] != before["samples"]
    report = recovered_once(rw.ws)
    assert report.samples_restored == 8 and report.fields_unset == []
    assert state(rw.ws) == before


def test_killed_select_and_undo_are_rolled_back(rw: RoundWorkspace) -> None:
    before = state(rw.ws)
    with killed(rw.ws):
        select(rw.ws, SelectConfig(n=2, strategy="random", run="p1", round="round-2"))
    recovered_once(rw.ws)
    assert state(rw.ws) == before

    pkg, manifest = _export(rw)
    done = import_annotations(rw.ws, writers.coco(_truth(rw, manifest), rw.tmp / "a.json"),
                              package=pkg)
    imported = state(rw.ws)
    with killed(rw.ws):
        undo_import(rw.ws, done.import_id)
    recovered_once(rw.ws)
    assert state(rw.ws) == imported


def test_rollback_is_idempotent(rw: RoundWorkspace) -> None:
    before = state(rw.ws)
    with killed(rw.ws):
        select(rw.ws, SelectConfig(n=3, strategy="random", run="p1", round="round-2"))
    doc = journal.pending(rw.ws)[0]
    saved = list(journal.saved_collection(rw.ws, doc["_id"]).find())
    journal.rollback(rw.ws, doc)  # a rollback killed after its last step ...
    rw.ws.db[journal.COLLECTION].insert_one(doc)  # ... would leave the journal as it was
    journal.saved_collection(rw.ws, doc["_id"]).insert_many(saved)
    recovered_once(rw.ws)
    assert state(rw.ws) == before


def test_training_refuses_and_writers_recover(workspace: Any, tmp_path: Path) -> None:
    from workbench.training.api import TrainConfig, train

    ws = workspace
    ingest(ws, make_yolo(tmp_path / "a", {"train": demo_images("train", 3)}), "yolo")
    before = state(ws)
    with killed(ws):
        ingest(ws, make_yolo(tmp_path / "b", {"val": demo_images("valid", 2)}), "yolo")
    with pytest.raises(InterruptedOperationError, match=r"`train`.*workbench recover"):
        train(ws, TrainConfig(epochs=1))
    reports: list[journal.Recovery] = []
    monkey = lock.on_recovered
    lock.on_recovered = reports.append
    try:
        pool = tmp_path / "pool"
        pool.mkdir()
        shutil.copy(demo_images("valid", 5)[-1], pool)
        ingest_api = __import__("workbench.ingestion.api", fromlist=["ingest"]).ingest
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "took over a stale workspace lock"
            ingest_api(ws, pool, format="images")  # a writing command recovers first
    finally:
        lock.on_recovered = monkey
    assert len(reports) == 1 and "rolled back the unfinished `workbench fake --kill`" in \
        reports[0].describe()
    assert ws.samples.count_documents({}) == len(before["samples"]) + 1


def test_readers_see_a_running_operation(workspace: Any) -> None:
    with lock.hold(workspace, "workbench ingest big/ --format yolo"):
        assert status(workspace).running and "ingest big/" in status(workspace).running[0]
        with pytest.raises(WorkspaceBusyError, match="run `check` when it has finished"):
            check(workspace)
    assert status(workspace).running == []


def test_checkpoint_keeps_what_a_verb_wrote_unless_another_verb_called_it(
        rw: RoundWorkspace) -> None:
    """A verb of its own keeps its writes up to a checkpoint when it fails later; called by
    another verb (``loop next`` calling ``predict``), its checkpoint keeps nothing: the
    caller's change is undone as a whole."""
    ws = rw.ws
    ids = [d["_id"] for d in ws.samples.find({}, {"_id": 1}).limit(4)]
    before = state(ws)

    @lock.writes
    def verb(ws: Any, fail: bool) -> None:
        assert not lock.nested(ws) or fail
        journal.writing_fields(ws, ids, ["kept"])  # as a writer does before it writes
        ws.samples.update_many({"_id": {"$in": ids}}, {"$set": {"kept": 1}})
        lock.checkpoint(ws)
        journal.writing_fields(ws, ids, ["lost"])
        ws.samples.update_many({"_id": {"$in": ids}}, {"$set": {"lost": 1}})
        if fail:
            raise WorkbenchError("a later step failed")

    @lock.writes
    def caller(ws: Any) -> None:
        assert not lock.nested(ws)
        verb(ws, fail=True)

    with pytest.raises(WorkbenchError, match="later step"):
        caller(ws)
    assert state(ws) == before  # nested: everything undone
    with pytest.raises(WorkbenchError, match="later step"):
        verb(ws, fail=True)
    assert ws.samples.count_documents({"kept": 1}) == 4  # before the checkpoint: kept
    assert ws.samples.count_documents({"lost": {"$exists": True}}) == 0
    assert journal.pending(ws) == []
