"""The workspace write lock: acquire/release, re-entrancy, stale takeover, busy, waiting."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from workbench.errors import WorkspaceBusyError
from workbench.store import lock


def _doc(ws: Any) -> Any:
    """The lock document of ``ws`` (None: unlocked)."""
    return ws.db[lock.LOCKS_COLLECTION].find_one({"_id": ws.config.name})


def _plant(ws: Any, pid: int, host: str, command: str = "workbench annotate import x",
           seconds_ago: float = 42) -> None:
    ws.db[lock.LOCKS_COLLECTION].insert_one({
        "_id": ws.config.name, "pid": pid, "host": host, "command": command, "token": "t0",
        "since": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)})


@pytest.fixture
def ws(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(lock.WAIT_ENV, raising=False)
    yield workspace
    workspace.db[lock.LOCKS_COLLECTION].delete_many({"_id": workspace.config.name})


def test_hold_records_the_holder_and_releases(ws: Any) -> None:
    with lock.hold(ws, "workbench select --uncertain 5"):
        doc = _doc(ws)
        assert doc is not None
        assert (doc["pid"], doc["host"]) == (os.getpid(), socket.gethostname())
        assert doc["command"] == "workbench select --uncertain 5"
        holder = lock.current_holder(ws)
        assert holder is not None and holder.pid == os.getpid()
    assert _doc(ws) is None and lock.current_holder(ws) is None


def test_released_when_the_body_raises(ws: Any) -> None:
    with pytest.raises(RuntimeError), lock.hold(ws):
        raise RuntimeError("boom")
    assert _doc(ws) is None


def test_reentrant_within_one_process(ws: Any) -> None:
    with lock.hold(ws, "outer"):
        token = _doc(ws)["token"]
        with lock.hold(ws, "inner"):
            assert _doc(ws)["token"] == token
        assert _doc(ws) is not None  # the outer still holds it
    assert _doc(ws) is None


@dataclass
class _Cfg:
    dry_run: bool = False


def test_decorated_verbs_nest_and_dry_runs_take_no_lock(ws: Any) -> None:
    seen: list[Any] = []

    @lock.writes
    def inner(w: Any, cfg: _Cfg) -> None:
        seen.append(_doc(w))

    @lock.writes
    def outer(w: Any, cfg: _Cfg) -> None:
        inner(w, cfg)

    outer(ws, _Cfg())
    assert seen[0] is not None and seen[0]["pid"] == os.getpid()
    assert _doc(ws) is None
    _plant(ws, 4242, "elsewhere")
    inner(ws, _Cfg(dry_run=True))  # busy, but a dry run writes nothing: no lock needed
    assert seen[1]["host"] == "elsewhere"
    with pytest.raises(WorkspaceBusyError):
        inner(ws, _Cfg())


def test_busy_error_names_pid_host_command_and_since(ws: Any) -> None:
    _plant(ws, 4242, "elsewhere", "workbench annotate import round1.zip")
    t0 = time.monotonic()
    with pytest.raises(WorkspaceBusyError) as info, lock.hold(ws):
        pass
    assert time.monotonic() - t0 < 1  # default: no wait
    msg = str(info.value)
    assert msg.startswith("workspace busy: PID 4242 on elsewhere runs "
                          "`workbench annotate import round1.zip` since ")
    assert " UTC (42 s)" in msg or " UTC (43 s)" in msg
    assert "--wait SECONDS" in msg
    assert info.value.exit_code != 0
    assert _doc(ws)["pid"] == 4242  # untouched


def test_stale_lock_of_a_dead_process_is_taken_over(ws: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    _plant(ws, proc.pid, socket.gethostname(), "workbench ingest gone")
    taken: list[lock.Holder] = []
    monkeypatch.setattr(lock, "on_takeover", taken.append)
    with lock.hold(ws):
        assert _doc(ws)["pid"] == os.getpid()
    assert [h.pid for h in taken] == [proc.pid] and taken[0].command == "workbench ingest gone"
    assert _doc(ws) is None


def test_live_process_on_this_host_is_not_stale(ws: Any) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        _plant(ws, proc.pid, socket.gethostname())
        with pytest.raises(WorkspaceBusyError, match=f"PID {proc.pid} on"), lock.hold(ws):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_wait_succeeds_when_released_within_the_timeout(ws: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(ws, 4242, "elsewhere")
    timer = threading.Timer(0.6, lambda: ws.db[lock.LOCKS_COLLECTION].delete_one(
        {"_id": ws.config.name, "token": "t0"}))
    timer.start()
    monkeypatch.setenv(lock.WAIT_ENV, "10")  # what `workbench --wait 10` sets
    t0 = time.monotonic()
    with lock.hold(ws):
        assert _doc(ws)["pid"] == os.getpid()
    assert 0.5 < time.monotonic() - t0 < 5
    timer.join()


def test_wait_fails_after_the_timeout(ws: Any) -> None:
    _plant(ws, 4242, "elsewhere")
    t0 = time.monotonic()
    with pytest.raises(WorkspaceBusyError, match=r"workspace busy after waiting 0.5 s"), \
            lock.hold(ws, wait=0.5):
        pass
    assert 0.5 <= time.monotonic() - t0 < 3


def test_command_line_summary() -> None:
    assert lock.command_line(["/venv/bin/workbench", "select", "--uncertain", "5"]) == \
        "workbench select --uncertain 5"
    assert lock.command_line(["/x/workbench/__main__.py", "status"]) == "workbench status"
    long = lock.command_line(["workbench", "ingest", "x" * 300])
    assert len(long) == 120 and long.endswith("…")
    assert lock.command_line(["script.py", "a"]) == "python script.py a"
