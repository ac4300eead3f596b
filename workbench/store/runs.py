"""Run records: every ingest, split, training, selection or export leaves one document."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import workbench
from workbench.store import journal

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


class RunKind(StrEnum):
    """Every kind of run a command records, as stored in a run document's ``kind``."""

    INGEST = "ingest"
    SPLIT = "split"
    TRAIN = "train"
    SWEEP = "sweep"
    EVALUATE = "evaluate"
    PREDICT = "predict"
    PREDICTIONS_IMPORT = "predictions-import"
    SELECT = "select"
    ANNOTATE_EXPORT = "annotate-export"
    ANNOTATE_IMPORT = "annotate-import"
    ANNOTATE_UNDO = "annotate-undo"
    ANNOTATE_PUSH = "annotate-push"
    EXPORT = "export"
    BENCHMARK = "benchmark"
    SSL_PRETRAIN = "ssl-pretrain"
    ENSEMBLE = "ensemble"
    CALIBRATE = "calibrate"


#: Kinds whose runs wrote predictions that selection can score.
PREDICTION_KINDS = (RunKind.PREDICT, RunKind.PREDICTIONS_IMPORT, RunKind.ENSEMBLE)


def new_run_id(prefix: str) -> str:
    """A sortable, unique run id such as ``ingest-20261123-134501-1a2b3c``."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{now}-{uuid.uuid4().hex[:6]}"


def record_run(
    ws: Workspace,
    kind: RunKind,
    run_id: str,
    params: dict[str, Any],
    outputs: dict[str, Any],
    started: dt.datetime,
) -> dict[str, Any]:
    """Insert a run document into the workspace's runs collection and return it.

    Args:
        ws: the :class:`~workbench.store.workspace.Workspace`.
        kind: what recorded the run.
        run_id: from :func:`new_run_id`.
        params: the resolved parameters of the command.
        outputs: counts, ids and metrics the command produced.
        started: when the command started (UTC).
    """
    finished = dt.datetime.now(dt.UTC)
    doc = {
        "_id": run_id,
        "dataset": ws.config.name,
        "kind": RunKind(kind).value,
        "params": params,
        "outputs": outputs,
        "started_at": started,
        "finished_at": finished,
        "seconds": (finished - started).total_seconds(),
        "workbench_version": workbench.__version__,
    }
    journal.writing_run(ws, run_id)
    ws.runs.insert_one(doc)
    return doc


def list_runs(ws: Workspace, kind: RunKind | str | None = None) -> list[dict[str, Any]]:
    """Run documents of the workspace, oldest first (without their sample ids and manifests)."""
    query: dict[str, Any] = {"dataset": ws.config.name}
    if kind:
        query["kind"] = RunKind(kind).value
    return list(ws.runs.find(query, {"outputs.sample_ids": 0, "outputs.manifest": 0})
                .sort("started_at", 1))


def delete_run(ws: Workspace, run_id: str) -> None:
    """Delete the record of run ``run_id`` of the workspace (a run about to be replaced)."""
    journal.writing_run(ws, run_id)
    ws.runs.delete_one({"_id": run_id, "dataset": ws.config.name})


def start_run(ws: Workspace, kind: RunKind, run_id: str, params: dict[str, Any],
              inputs: dict[str, Any], on_rollback: str = "rolled-back") -> dict[str, Any]:
    """Insert a run in state ``running`` (for long jobs that update it as they go).

    If the command dies or fails before it finishes the run, the rollback of its operation
    leaves the record in state ``on_rollback`` (``interrupted`` for training, whose
    checkpoints stay valid).
    """
    now = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "_id": run_id, "dataset": ws.config.name, "kind": RunKind(kind).value,
        "status": "running",
        "pid": os.getpid(), "host": socket.gethostname(),
        "params": params, "inputs": inputs, "outputs": {}, "epochs": [],
        "started_at": now, "finished_at": None, "seconds": None,
        "workbench_version": workbench.__version__,
    }
    journal.starting_run(ws, run_id, on_rollback)
    ws.runs.insert_one(doc)
    return doc


def still_running(doc: dict[str, Any]) -> bool:
    """Whether a ``running`` run's process is alive on this host (it may be writing to it)."""
    if doc.get("status") != "running" or doc.get("host") != socket.gethostname():
        return False
    pid = doc.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    from workbench.store.mongod import pid_alive

    return pid_alive(pid)


def get_run(ws: Workspace, run_id: str, kind: RunKind | None = None) -> dict[str, Any] | None:
    """The run document, or None."""
    query: dict[str, Any] = {"_id": run_id, "dataset": ws.config.name}
    if kind:
        query["kind"] = RunKind(kind).value
    doc: dict[str, Any] | None = ws.runs.find_one(query)
    return doc


def update_run(ws: Workspace, run_id: str, set_: dict[str, Any] | None = None,
               push: dict[str, Any] | None = None) -> None:
    """``$set`` / ``$push`` fields of a run."""
    update: dict[str, Any] = {}
    if set_:
        update["$set"] = set_
    if push:
        update["$push"] = push
    if update:
        journal.writing_run(ws, run_id)
        ws.runs.update_one({"_id": run_id}, update)


def finish_run(ws: Workspace, run_id: str, status: str, outputs: dict[str, Any],
               seconds: float) -> None:
    """Mark a run ``completed`` / ``failed`` / ``interrupted`` with its outputs."""
    update_run(ws, run_id, set_={"status": status, "outputs": outputs, "seconds": seconds,
                                 "finished_at": dt.datetime.now(dt.UTC)})
