"""The operation journal: what a writing command must undo if it dies half-way.

Every command that writes runs under the workspace lock (:mod:`workbench.store.lock`); the
outermost hold opens an *operation*, a document in ``workbench_journal`` written (and made
durable) before the command's first data write. The store functions that write register, again
*before* they write, how to undo what they are about to do:

===================  =======================================================================
action               undo
===================  =======================================================================
``delete_samples``   samples inserted by the operation (matched by their ingest run) deleted
``restore_samples``  the earlier ground truth, status, split, tags, round or prediction field
                     of every updated sample, saved in ``workbench_journal_saved_<op>``
``restore_versions`` the states an annotation import saved for undo (no second copy)
``unset_fields``     fields no sample had before (a new prediction run) removed again
``restore_runs``     run records put back as they were (created ones deleted)
``end_run``          a run the operation started marked ``rolled-back`` (training: marked
                     ``interrupted``, and only while still ``running``)
``restore_classes``  the class list as it was
===================  =======================================================================

A command that finishes deletes its operation (:func:`commit`); a long one may keep its
finished part on the way (:func:`checkpoint`). One that raises is rolled back
at once (:func:`rollback`). One that is killed (SIGKILL, power loss, a dead mongod) leaves its
operation behind; the next command that takes the lock rolls it back and says so in one line,
and read-only commands refuse to show half an operation as the truth (:mod:`lock`).
Rolling back is idempotent: a rollback that is itself interrupted is simply done again.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.store import schema, transaction

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

COLLECTION = "workbench_journal"
#: Saved states of operation ``X`` live in collection ``workbench_journal_saved_X``, dropped
#: (a constant-time step) when the operation ends.
SAVED_PREFIX = "workbench_journal_saved_"
#: The sample fields a label, status or split change saves before it writes.
SAMPLE_FIELDS = (schema.GROUND_TRUTH, schema.STATUS, schema.SPLIT, "tags", schema.ROUND_SELECTED)
_CHUNK = 5000


@dataclass
class Operation:
    """An open operation of this process (one per outermost lock hold).

    Attributes:
        id: the journal document's id.
        ws: the workspace it writes.
        saved: field -> ids of the samples whose value before the operation is saved.
        fresh: fields no sample had when the operation first wrote them.
        checked: fields already looked up for :attr:`fresh`.
        runs: run ids whose earlier state is saved (or that the operation started).
        actions: the undo actions registered so far (each once).
    """

    id: str
    ws: Workspace
    saved: dict[str, set[Any]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)


@dataclass
class Recovery:
    """What rolling back one operation did (the one line the CLI prints)."""

    operation: str
    command: str
    pid: int
    host: str
    started: dt.datetime
    samples_restored: int = 0
    samples_deleted: int = 0
    fields_unset: list[str] = field(default_factory=list)
    runs: int = 0
    classes_restored: bool = False

    def describe(self) -> str:
        """``rolled back `workbench annotate import a.json` (PID 4242, started …): …``."""
        done = [f"{self.samples_restored} samples restored", f"{self.samples_deleted} removed"]
        if self.fields_unset:
            done.append("fields " + ", ".join(self.fields_unset) + " removed")
        if self.runs:
            done.append(f"{self.runs} run records put back")
        if self.classes_restored:
            done.append("class list restored")
        return (f"rolled back the unfinished {who(self.command, self.pid, self.host, self.started)}"
                ": " + ", ".join(done))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"operation": self.operation, "command": self.command, "pid": self.pid,
                "host": self.host, "started": self.started.isoformat(),
                "samples_restored": self.samples_restored,
                "samples_deleted": self.samples_deleted, "fields_unset": self.fields_unset,
                "runs": self.runs, "classes_restored": self.classes_restored}


_active: dict[tuple[Any, str], Operation] = {}


def _durable(ws: Workspace, name: str) -> Any:
    """``name`` with journaled acknowledgement (the write is on disk when it returns; on a
    replica set, on a majority of the members)."""
    from workbench.store.connection import durable_concern

    return ws.db[name].with_options(write_concern=durable_concern(ws.db))


def saved_collection(ws: Workspace, op_id: str) -> Any:
    """The collection holding operation ``op_id``'s saved states."""
    return ws.db[SAVED_PREFIX + op_id]


def workspace_key(ws: Workspace) -> tuple[Any, str]:
    """What identifies a workspace's database within this process (the lock's key too)."""
    return (ws.target, ws.config.name)


def who(command: str, pid: Any, host: Any, started: dt.datetime | None) -> str:
    """```workbench ingest …` (PID 4242 on lab-01, started 2026-11-30 14:01:02 UTC)``."""
    started = started or dt.datetime.now(dt.UTC)
    return f"`{command}` (PID {pid} on {host}, started {started:%Y-%m-%d %H:%M:%S} UTC)"


def describe(doc: dict[str, Any]) -> str:
    """:func:`who` of a journal document."""
    return who(doc.get("command", "?"), doc.get("pid", "?"), doc.get("host", "?"),
               doc.get("started"))


def active(ws: Workspace) -> Operation | None:
    """This process's open operation on ``ws`` (None outside a writing command, and inside a
    transaction, which needs no undo: :mod:`workbench.store.transaction`)."""
    if transaction.session_of(ws) is not None:
        return None
    return _active.get(workspace_key(ws))


def begin(ws: Workspace, command: str, lock_token: str) -> Operation:
    """Open an operation: its journal document is on disk before anything else is written."""
    op = Operation(id=uuid.uuid4().hex, ws=ws)
    ws.db[COLLECTION].insert_one({
        "_id": op.id, "dataset": ws.config.name, "command": command, "pid": os.getpid(),
        "host": socket.gethostname(), "started": dt.datetime.now(dt.UTC),
        "lock_token": lock_token, "actions": []})
    _active[workspace_key(ws)] = op
    return op


def commit(op: Operation) -> None:
    """Close a finished operation: its saved states and its journal document go.

    Only this deletion waits for the disk: a command that reported success stays done.
    Earlier journal writes need no wait of their own: the database's write-ahead log is
    sequential, so a data write that survives a crash implies the notes before it did.
    """
    _active.pop(workspace_key(op.ws), None)
    _durable(op.ws, COLLECTION).delete_one({"_id": op.id})
    saved_collection(op.ws, op.id).drop()


def checkpoint(ws: Workspace) -> None:
    """Keep what the open operation on ``ws`` has written so far (a long job's finished part).

    Its undo actions and saved states go, except the ``end_run`` ones: a command killed after
    a checkpoint loses only what it wrote since (and its run is still marked as not
    finished), so it can be resumed. Without an open operation, nothing happens.
    """
    op = active(ws)
    if op is None:
        return
    doc = ws.db[COLLECTION].find_one({"_id": op.id}, {"actions": 1}) or {}
    kept = [a for a in doc.get("actions") or [] if a.get("do") == "end_run"]
    _durable(ws, COLLECTION).update_one({"_id": op.id}, {"$set": {"actions": kept}})
    saved_collection(ws, op.id).drop()
    op.saved.clear()
    op.fresh.clear()
    op.checked.clear()
    op.runs = {a["run"] for a in kept}
    op.actions = {f"end:{a['run']}" for a in kept}


def abandon(op: Operation) -> None:
    """Forget an operation in this process without touching the store (the next command
    recovers it)."""
    _active.pop(workspace_key(op.ws), None)


def pending(ws: Workspace) -> list[dict[str, Any]]:
    """Journal documents of operations not finished, newest first."""
    return list(ws.db[COLLECTION].find({"dataset": ws.config.name}).sort("started", -1))


def sweep(ws: Workspace) -> None:
    """Drop saved states no operation owns (a rollback killed after its last step)."""
    owned = {SAVED_PREFIX + str(d["_id"]) for d in ws.db[COLLECTION].find({}, {"_id": 1})}
    for name in ws.db.list_collection_names(filter={"name": {"$regex": f"^{SAVED_PREFIX}"}}):
        if name not in owned:
            ws.db[name].drop()


def _register(ws: Workspace, key: str, action: dict[str, Any]) -> Operation | None:
    """Record an undo action of the open operation once, durably, before its write."""
    op = active(ws)
    if op is None or key in op.actions:
        return op
    ws.db[COLLECTION].update_one({"_id": op.id}, {"$push": {"actions": action}})
    op.actions.add(key)
    return op


# --- hooks the store's writers call before they write ------------------------------------


def inserting(ws: Workspace, match_field: str, value: str) -> None:
    """New samples carrying ``match_field == value`` are about to be inserted."""
    _register(ws, f"delete:{match_field}:{value}",
              {"do": "delete_samples", "field": match_field, "value": value})


def updating(ws: Workspace, ids: Iterable[Any], fields: Iterable[str] = SAMPLE_FIELDS) -> None:
    """Samples ``ids`` are about to get new values of ``fields``: save the current ones.

    Each sample's value is saved once per operation, before the operation first changes it.
    """
    op = active(ws)
    if op is None:
        return
    wanted = set(ids)
    todo: dict[frozenset[Any], list[str]] = {}  # the samples still to save -> their fields
    for f in fields:
        if f not in op.fresh:
            new = frozenset(wanted - op.saved.setdefault(f, set()))
            if new:
                todo.setdefault(new, []).append(f)
    if not todo:
        return
    _register(ws, "restore_samples", {"do": "restore_samples"})
    into = SAVED_PREFIX + op.id
    for group, covers in todo.items():
        members = list(group)
        for start in range(0, len(members), _CHUNK):
            ws.samples.aggregate([
                {"$match": {"_id": {"$in": members[start:start + _CHUNK]}}},
                {"$project": {"_id": 0, "sample_id": "$_id", "covers": {"$literal": covers},
                              "fields": {f: f"${f}" for f in covers}}},
                {"$merge": {"into": into, "whenMatched": "fail",
                            "whenNotMatched": "insert"}}])
        for f in covers:
            op.saved[f].update(group)


def updating_matching(ws: Workspace, match: dict[str, Any],
                      fields: Iterable[str] = SAMPLE_FIELDS) -> None:
    """As :func:`updating`, for the samples matching ``match``."""
    if active(ws) is not None:
        updating(ws, [d["_id"] for d in ws.samples.find(match, {"_id": 1})], fields)


def writing_fields(ws: Workspace, ids: list[Any], fields: Iterable[str]) -> None:
    """Fields (a prediction run's) are about to be set on samples ``ids``.

    A field no sample has yet is removed again on rollback; otherwise the samples' current
    values are saved.
    """
    op = active(ws)
    if op is None:
        return
    fields = list(fields)
    for f in fields:
        if f not in op.checked:
            op.checked.add(f)
            if ws.samples.find_one({f: {"$exists": True}}, {"_id": 1}) is None:
                op.fresh.add(f)
    new = sorted(f for f in fields if f in op.fresh)
    if new:
        _register(ws, "unset:" + ",".join(new), {"do": "unset_fields", "fields": new})
    updating(ws, ids, [f for f in fields if f not in op.fresh])


def saved_by_versions(ws: Workspace, change_id: str, ids: Iterable[Any]) -> None:
    """An import saved the states of ``ids`` under ``change_id`` (about to overwrite them)."""
    op = _register(ws, f"versions:{change_id}", {"do": "restore_versions", "change_id": change_id})
    if op is not None:
        ids = list(ids)
        for f in SAMPLE_FIELDS:
            op.saved.setdefault(f, set()).update(ids)


def writing_run(ws: Workspace, run_id: str) -> None:
    """Run record ``run_id`` is about to be created, changed or deleted: save it as it is."""
    op = active(ws)
    if op is None or run_id in op.runs:
        return
    _register(ws, "restore_runs", {"do": "restore_runs"})
    doc = ws.runs.find_one({"_id": run_id})
    saved_collection(ws, op.id).insert_one({"run_id": run_id, "run": doc})
    op.runs.add(run_id)


def starting_run(ws: Workspace, run_id: str, status: str) -> None:
    """A run is about to be recorded in state ``running``; rollback marks it ``status``
    (``interrupted``: only while it is still running)."""
    op = _register(ws, f"end:{run_id}", {"do": "end_run", "run": run_id, "status": status})
    if op is not None:
        op.runs.add(run_id)


def changing_classes(ws: Workspace) -> None:
    """The class list is about to change: keep the current one."""
    _register(ws, "classes", {"do": "restore_classes", "classes": list(ws.config.classes)})


# --- rollback --------------------------------------------------------------------------------


def rollback(ws: Workspace, doc: dict[str, Any]) -> Recovery:
    """Undo an operation's writes (its actions, newest first) and delete it.

    Args:
        ws: the workspace (its lock held by the caller).
        doc: the operation's journal document (from :func:`pending` or the open one).
    """
    started = doc.get("started") or dt.datetime.now(dt.UTC)
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    report = Recovery(operation=str(doc["_id"]), command=str(doc.get("command", "?")),
                      pid=int(doc.get("pid", 0)), host=str(doc.get("host", "?")), started=started)
    for action in reversed(doc.get("actions") or []):
        _UNDO[action["do"]](ws, doc["_id"], action, report)
    _durable(ws, COLLECTION).delete_one({"_id": doc["_id"]})
    saved_collection(ws, doc["_id"]).drop()
    return report


def rollback_open(op: Operation) -> Recovery:
    """Roll back this process's open operation (the command raised)."""
    _active.pop(workspace_key(op.ws), None)
    doc = op.ws.db[COLLECTION].find_one({"_id": op.id})
    if doc is None:
        raise LookupError(f"operation {op.id} is not in the journal")
    return rollback(op.ws, doc)


def _delete_samples(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    r.samples_deleted += int(ws.samples.delete_many({action["field"]: action["value"]})
                             .deleted_count)


def _restore_samples(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    from pymongo import UpdateOne

    from workbench.store.query import now

    stamp = now()
    ops: list[Any] = []
    touched: set[Any] = set()
    for saved in saved_collection(ws, op_id).find({"sample_id": {"$exists": True}}):
        values = saved.get("fields") or {}
        update: dict[str, Any] = {"$set": {**{f: values[f] for f in saved["covers"]
                                               if f in values}, "last_modified_at": stamp}}
        gone = {f: "" for f in saved["covers"] if f not in values}
        if gone:
            update["$unset"] = gone
        ops.append(UpdateOne({"_id": saved["sample_id"]}, update))
        touched.add(saved["sample_id"])
        if len(ops) >= _CHUNK:
            ws.samples.bulk_write(ops, ordered=False)
            ops = []
    if ops:
        ws.samples.bulk_write(ops, ordered=False)
    r.samples_restored += len(touched)


def _restore_versions(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    from workbench.store import versions  # it imports this module

    r.samples_restored += versions.restore(ws, versions.saved(ws, action["change_id"]),
                                           check=False)
    versions.forget(ws, action["change_id"])


def _unset_fields(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    for f in action["fields"]:
        ws.samples.update_many({f: {"$exists": True}}, {"$unset": {f: ""}})
        for name, info in ws.samples.index_information().items():
            # the indexes on the field itself (exact paths: run ``a`` never takes ``a_b``'s)
            if name != "_id_" and any(k == f or k.startswith(f + ".") for k, _ in info["key"]):
                ws.samples.drop_index(name)
        r.fields_unset.append(f)


def _restore_runs(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    for saved in saved_collection(ws, op_id).find({"run_id": {"$exists": True}}):
        if saved.get("run") is None:
            ws.runs.delete_one({"_id": saved["run_id"]})
        else:
            ws.runs.replace_one({"_id": saved["run_id"]}, saved["run"], upsert=True)
        r.runs += 1


def _end_run(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    # training keeps a finished run (its weights are whole); a rolled-back import's record
    # must not claim "completed" for data that is gone
    status = "running" if action["status"] == "interrupted" else {"$ne": "failed"}
    done = ws.runs.update_one({"_id": action["run"], "status": status},
                              {"$set": {"status": action["status"],
                                        "finished_at": dt.datetime.now(dt.UTC)}})
    r.runs += int(done.modified_count)


def _restore_classes(ws: Workspace, op_id: str, action: dict[str, Any], r: Recovery) -> None:
    if list(ws.config.classes) != list(action["classes"]):
        ws.config.classes = list(action["classes"])
        ws.save_config()
        r.classes_restored = True


_UNDO = {"delete_samples": _delete_samples, "restore_samples": _restore_samples,
         "restore_versions": _restore_versions, "unset_fields": _unset_fields,
         "restore_runs": _restore_runs, "end_run": _end_run,
         "restore_classes": _restore_classes}
