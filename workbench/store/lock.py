"""One writer per workspace: a lock document in the workspace's own database.

Every verb that writes (ingest, split, predict, select, annotate …, loop, train, evaluate,
export) runs inside :func:`hold`, usually through the :func:`writes` decorator on its ``api``
function. The lock is a document in the ``workbench_locks`` collection whose ``_id`` is the
dataset name; inserting it is atomic (unique ``_id``), so it works for the embedded mongod and
for an external MongoDB shared by several machines alike. It records who holds it: pid, host,
the command line and since when.

- Busy: another live process holds it. :func:`hold` polls every :data:`POLL_SECONDS` for up to
  ``wait`` seconds (default: the ``WORKBENCH_LOCK_WAIT`` environment variable, which
  ``workbench --wait SECONDS`` sets; else 0, fail at once), then raises
  :class:`~workbench.errors.WorkspaceBusyError` naming the holder.
- Stale: the holder ran on this host and its process is gone (or its pid was reused); the lock
  is taken over and :data:`on_takeover` is told (the CLI prints one line).
- Re-entrant: within one process nested verbs (``loop next`` calling select and
  ``annotate export``) count up and down one lock; only the outermost releases it.
- Released in ``finally``; an ``atexit`` hook releases whatever an interrupted process still
  holds. A process killed outright leaves a stale lock, which the next writer takes over.
- The outermost hold is one operation of the journal (:mod:`workbench.store.journal`): it
  first rolls back what dead holders left unfinished (:data:`on_recovered` is told), then
  commits this command's operation, or rolls it back when the block raises.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import os
import socket
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

from workbench.errors import InterruptedOperationError, WorkspaceBusyError
from workbench.store import connection, journal
from workbench.store.mongod import pid_alive
from workbench.store.workspace import Workspace

LOCKS_COLLECTION = "workbench_locks"
WAIT_ENV = "WORKBENCH_LOCK_WAIT"
POLL_SECONDS = 0.2
_COMMAND_CHARS = 120

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a workspace lock."""

    pid: int
    host: str
    command: str
    since: dt.datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Holder:
        """The holder recorded in a lock document."""
        since = doc.get("since") or dt.datetime.now(dt.UTC)
        if since.tzinfo is None:  # pymongo returns naive UTC datetimes
            since = since.replace(tzinfo=dt.UTC)
        return cls(int(doc.get("pid", 0)), str(doc.get("host", "?")),
                   str(doc.get("command", "?")), since)

    def describe(self) -> str:
        """``PID 1234 on HOST runs `workbench …` since 2026-11-30 12:01:03 UTC (42 s)``."""
        age = max(0, round((dt.datetime.now(dt.UTC) - self.since).total_seconds()))
        return (f"PID {self.pid} on {self.host} runs `{self.command}` since "
                f"{self.since:%Y-%m-%d %H:%M:%S} UTC ({age} s)")


def _warn(holder: Holder) -> None:
    warnings.warn(f"took over a stale workspace lock: {holder.describe()}, "
                  "but that process is gone", stacklevel=3)


#: Called with the former holder when a stale lock is taken over (the CLI prints it).
on_takeover: Callable[[Holder], None] = _warn


@dataclass
class _Held:
    token: str
    count: int
    ws: Workspace
    verbs: int = 0  # :func:`writes` verbs running under the hold (nested: more than one)


_held: dict[tuple[Any, str], _Held] = {}
_guard = threading.RLock()
_atexit_registered = False


def command_line(argv: list[str] | None = None) -> str:
    """A short form of this process's command line (``workbench select --uncertain 50``)."""
    args = list(sys.argv if argv is None else argv)
    if not args:
        return "python"
    head = os.path.basename(args[0])
    if head in ("workbench", "__main__.py") or args[0].endswith("workbench/__main__.py"):
        text = " ".join(["workbench", *args[1:]])
    else:
        text = " ".join(["python", *args])
    return text if len(text) <= _COMMAND_CHARS else text[:_COMMAND_CHARS - 1] + "…"


def default_wait() -> float:
    """Seconds to wait for a busy workspace: ``WORKBENCH_LOCK_WAIT`` (``--wait``), else 0."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, "0") or 0))
    except ValueError:
        return 0.0


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a reused pid apart), None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _stale(doc: dict[str, Any], host: str) -> bool:
    if doc.get("host") != host:
        return False  # another machine: its process cannot be checked from here
    pid = int(doc.get("pid", 0))
    if not pid_alive(pid):
        return True
    started = doc.get("pid_start")
    return started is not None and _start_time(pid) not in (None, started)


_key = journal.workspace_key


def current_holder(ws: Workspace) -> Holder | None:
    """Who holds ``ws``'s lock now (None: nobody)."""
    doc = ws.db[LOCKS_COLLECTION].find_one({"_id": ws.config.name})
    return None if doc is None else Holder.from_doc(doc)


def _acquire(ws: Workspace, command: str, wait: float) -> str:
    from pymongo.errors import DuplicateKeyError

    coll = ws.db[LOCKS_COLLECTION]
    host, pid = socket.gethostname(), os.getpid()
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        doc = {"_id": ws.config.name, "pid": pid, "host": host, "command": command,
               "since": dt.datetime.now(dt.UTC), "pid_start": _start_time(pid), "token": token}
        try:
            coll.insert_one(doc)
            return token
        except DuplicateKeyError:
            pass
        other = coll.find_one({"_id": ws.config.name})
        if other is None:
            continue  # released meanwhile
        if _stale(other, host):
            # delete exactly the stale document: of two racing takers only one deletes it
            if coll.delete_one({"_id": other["_id"], "token": other.get("token")}).deleted_count:
                on_takeover(Holder.from_doc(other))
            continue
        if time.monotonic() >= deadline:
            raise WorkspaceBusyError(ws.config.name, Holder.from_doc(other).describe(), wait)
        time.sleep(POLL_SECONDS)


def _release(key: tuple[Any, str]) -> None:
    held = _held.pop(key, None)
    if held is not None:
        held.ws.db[LOCKS_COLLECTION].delete_one({"_id": key[1], "token": held.token})


def _release_all() -> None:
    with _guard:
        for key in list(_held):
            with contextlib.suppress(Exception):
                _release(key)


def _warn_recovered(report: journal.Recovery) -> None:
    warnings.warn(f"recovered: {report.describe()}", stacklevel=3)


#: Called with each rolled-back operation when a command recovers the workspace (the CLI
#: prints one line).
on_recovered: Callable[[journal.Recovery], None] = _warn_recovered


def interrupted(ws: Workspace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Unfinished operations of ``ws``: ``(running, interrupted)`` journal documents.

    Running ones belong to the live holder of the lock; interrupted ones to a process that
    died (they wait for a writing command or ``workbench recover`` to roll them back).
    """
    lock_doc = ws.db[LOCKS_COLLECTION].find_one({"_id": ws.config.name})
    live = (None if lock_doc is None or _stale(lock_doc, socket.gethostname())
            else lock_doc.get("token"))  # the token of a live holder
    running: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    for doc in journal.pending(ws):
        (running if live is not None and doc.get("lock_token") == live else dead).append(doc)
    return running, dead


def require_recovered(ws: Workspace, command: str) -> list[dict[str, Any]]:
    """Refuse to read a workspace that an interrupted operation left half-written.

    Args:
        ws: the workspace.
        command: the refusing command, for the message (``"status"``).

    Returns:
        The journal documents of operations that are running right now (readers may
        mention them).

    Raises:
        InterruptedOperationError: a dead process left an operation unfinished.
    """
    running, dead = interrupted(ws)
    if dead:
        raise InterruptedOperationError(command, journal.describe(dead[0]), len(dead))
    return running


def require_quiet(ws: Workspace, command: str) -> None:
    """Refuse to read while an operation is unfinished: interrupted, or running now.

    Raises:
        InterruptedOperationError: a dead process left an operation unfinished.
        WorkspaceBusyError: a live process is writing the workspace right now.
    """
    running = require_recovered(ws, command)
    if running:
        raise WorkspaceBusyError(ws.config.name, journal.describe(running[0]), 0.0,
                                 f"run `{command}` when it has finished")


def _recover(ws: Workspace, recover: bool, report: Callable[[journal.Recovery], None] | None,
             command: str) -> None:
    """With the lock held: roll back what dead processes left, or refuse to go on."""
    dead = journal.pending(ws)
    if dead and not recover:
        raise InterruptedOperationError(command, journal.describe(dead[0]), len(dead))
    for doc in dead:  # newest first
        (report or on_recovered)(journal.rollback(ws, doc))
    if dead:
        journal.sweep(ws)


@contextlib.contextmanager
def hold(ws: Workspace, command: str | None = None, wait: float | None = None,
         recover: bool = True, report: Callable[[journal.Recovery], None] | None = None,
         name: str | None = None) -> Iterator[None]:
    """Hold ``ws``'s write lock meanwhile (re-entrant within this process).

    The outermost hold first rolls back the operations that dead processes left in the
    journal (``recover``; else it refuses), then opens this command's operation: it is
    committed when the block ends, rolled back when the block raises, and left for the next
    command when the database itself failed.

    Args:
        ws: the workspace.
        command: what to show others who find it busy (default: this process's command line).
        wait: seconds to wait for another writer (default: :func:`default_wait`).
        recover: roll back interrupted operations first; False: raise
            :class:`InterruptedOperationError` instead (training reads labels it must trust).
        report: called with each rollback (default: :data:`on_recovered`).
        name: what the refusal calls this command (default: ``command``).

    Raises:
        WorkspaceBusyError: another live process still holds it after ``wait`` seconds.
        InterruptedOperationError: ``recover`` is False and the journal is not empty.
    """
    global _atexit_registered
    key = _key(ws)
    op: journal.Operation | None = None
    with _guard:
        held = _held.get(key)
        if held is not None:
            held.count += 1
        else:
            command = command or command_line()
            token = _acquire(ws, command, default_wait() if wait is None else max(0.0, wait))
            _held[key] = _Held(token, 1, ws)
            if not _atexit_registered:
                atexit.register(_release_all)
                _atexit_registered = True
            try:
                _recover(ws, recover, report, name or command)
                op = journal.begin(ws, command, token)
            except BaseException:
                _release(key)
                raise
    try:
        yield
    except BaseException as exc:
        if op is not None and not _end(op, exc):
            with _guard:  # the database is gone: releasing would only wait for it again
                _held.pop(key, None)
        raise
    else:
        if op is not None:
            journal.commit(op)
    finally:
        with _guard:
            held = _held.get(key)
            if held is not None:
                held.count -= 1
                if held.count <= 0:
                    _release(key)


def _end(op: journal.Operation, exc: BaseException) -> bool:
    """Roll back the operation of a command that raised; False when the database failed
    (the journal keeps the operation and the next command rolls it back)."""
    if connection.lost_connection(exc) is not None:  # the database is gone: nothing to undo
        journal.abandon(op)
        return False
    try:
        journal.rollback_open(op)
    except Exception as failed:  # the journal keeps it; the next command rolls it back
        journal.abandon(op)
        return connection.lost_connection(failed) is None
    return True


@contextlib.contextmanager
def _verb(ws: Workspace) -> Iterator[None]:
    """Count a verb running under this process's hold on ``ws`` (:func:`nested`)."""
    held = _held[_key(ws)]
    held.verbs += 1
    try:
        yield
    finally:
        held.verbs -= 1


def nested(ws: Workspace) -> bool:
    """Whether the running verb was called by another verb of the same command (``loop next``
    calling ``predict`` and ``select``): its writes are then part of a larger change, which
    a failure later on must be able to undo as a whole."""
    held = _held.get(_key(ws))
    return held is not None and held.verbs > 1


def checkpoint(ws: Workspace) -> None:
    """Keep what the command has written so far (:func:`journal.checkpoint
    <workbench.store.journal.checkpoint>`), unless the verb is :func:`nested`."""
    if not nested(ws):
        journal.checkpoint(ws)


@overload
def writes(func: Callable[P, R]) -> Callable[P, R]: ...


@overload
def writes(*, recover: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def writes(func: Callable[P, R] | None = None, *, recover: bool = True) -> Any:
    """Decorate an ``api`` verb ``verb(ws, …)`` that writes: it runs under :func:`hold`.

    A call with a config whose ``dry_run`` is true (or a ``dry_run=True`` keyword) writes
    nothing and takes no lock. ``@writes(recover=False)``: refuse a workspace with an
    interrupted operation instead of rolling it back first.
    """
    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            ws = args[0] if args else kwargs.get("ws")
            dry = bool(kwargs.get("dry_run")) or any(
                getattr(a, "dry_run", False) is True for a in (*args[1:], *kwargs.values()))
            if dry or not isinstance(ws, Workspace):
                return fn(*args, **kwargs)
            with hold(ws, recover=recover, name=fn.__name__), _verb(ws):
                return fn(*args, **kwargs)

        return wrapper

    return decorate if func is None else decorate(func)
