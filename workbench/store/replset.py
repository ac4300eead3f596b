"""A MongoDB replica set on this machine: N ``mongod`` members (FiftyOne's binary) on loopback.

For trying the store on a replica set and for the tests: ``workbench db start-replset DIR``
starts the members on free 127.0.0.1 ports, data in ``DIR/member-<i>`` (log in
``DIR/member-<i>/mongod.log``), runs ``replSetInitiate`` and waits until a primary is elected
and every member is up; ``DIR/replset.json`` records the set (name, URI, ports, pids). A
workspace uses it through ``workbench init --database-uri URI``.

- Starting it again on the same ``DIR`` restarts the members that are down, on their ports and
  data: a killed member re-joins (after an election it comes back as a secondary).
- :func:`stop` shuts every member down (SIGTERM: a clean shutdown; SIGKILL after a timeout); it
  is idempotent and keeps ``replset.json``, so a later start brings the same set back.
- Members get a small WiredTiger cache (several share one machine) and a short election
  timeout (:data:`ELECTION_TIMEOUT_MS`), so a killed primary is replaced in seconds.

Nothing watches these members: they run until :func:`stop` (unlike the embedded per-workspace
mongod of :mod:`workbench.store.mongod`, whose binary, port picking and process checks this
module reuses).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkspaceError
from workbench.store.mongod import _free_port, _locked, find_mongod_binary, pid_alive

STATE_FILE = "replset.json"
DEFAULT_NAME = "rs0"
MAX_MEMBERS = 7  # MongoDB's limit of voting members
#: A member that misses the primary's heartbeats this long calls an election (MongoDB's
#: default is 10 s; a set on one machine can be quicker).
ELECTION_TIMEOUT_MS = 5000
#: How long a SIGTERMed primary waits for a secondary to catch up before it shuts down anyway.
SHUTDOWN_TIMEOUT_MS = 3000
DEFAULT_CACHE_GB = 0.25


@dataclass
class Member:
    """One ``mongod`` of the set."""

    index: int
    port: int
    pid: int | None
    dbpath: Path

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as in the set's configuration."""
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The member's log file."""
        return self.dbpath / "mongod.log"

    def alive(self) -> bool:
        """Whether the recorded process runs and is this member's mongod (not a reused pid)."""
        return self.pid is not None and _is_member(self.pid, self.dbpath)


@dataclass
class ReplicaSet:
    """A replica set started by :func:`start` (the contents of ``DIR/replset.json``)."""

    directory: Path
    name: str
    members: list[Member]

    @property
    def uri(self) -> str:
        """``mongodb://127.0.0.1:P1,127.0.0.1:P2,…/?replicaSet=NAME``."""
        return uri_for(self.name, [m.port for m in self.members])

    @property
    def pids(self) -> list[int]:
        """The pids of the members that run."""
        return [m.pid for m in self.members if m.pid is not None and m.alive()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``replset.json`` holds and ``--json`` prints)."""
        return {"name": self.name, "uri": self.uri, "directory": str(self.directory),
                "ports": [m.port for m in self.members], "pids": self.pids,
                "members": [{"index": m.index, "host": m.host, "port": m.port, "pid": m.pid,
                             "alive": m.alive(), "dbpath": str(m.dbpath), "log": str(m.log)}
                            for m in self.members]}


def uri_for(name: str, ports: list[int]) -> str:
    """The connection string of a loopback replica set ``name`` on ``ports``."""
    return "mongodb://" + ",".join(f"127.0.0.1:{p}" for p in ports) + f"/?replicaSet={name}"


def _is_member(pid: int, dbpath: Path) -> bool:
    """Whether ``pid`` is a live mongod serving ``dbpath`` (guards against reused pids)."""
    if not pid_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (bool(args) and os.path.basename(args[0]) == b"mongod"
            and os.fsencode(str(dbpath)) in args)


def read(directory: Path) -> ReplicaSet | None:
    """The set recorded in ``directory`` (None: no readable ``replset.json``)."""
    try:
        state = json.loads((directory / STATE_FILE).read_text())
        members = [Member(int(m["index"]), int(m["port"]),
                          None if m.get("pid") is None else int(m["pid"]), Path(m["dbpath"]))
                   for m in state["members"]]
        return ReplicaSet(directory, str(state["name"]), members)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(rs: ReplicaSet) -> None:
    path = rs.directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rs.to_dict(), indent=2) + "\n")
    tmp.replace(path)


def _client(port: int, timeout_ms: int = 2000) -> Any:
    """A pymongo client to one member only (it answers before the set is initiated)."""
    import pymongo

    return pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true",
                               serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)


def _answers(member: Member) -> bool:
    """Whether ``member``'s port answers with a mongod that uses its data directory."""
    import pymongo

    try:
        with _client(member.port, 500) as client:
            opts = client.admin.command("getCmdLineOpts")
    except pymongo.errors.PyMongoError:
        return False
    path = opts.get("parsed", {}).get("storage", {}).get("dbPath", "")
    return bool(path) and Path(path).resolve() == member.dbpath.resolve()


def _launch(member: Member, name: str, cache_gb: float, deadline: float) -> None:
    """Start ``member``'s mongod and wait until it answers (sets ``member.pid``)."""
    member.dbpath.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [find_mongod_binary(), "--replSet", name, "--dbpath", str(member.dbpath),
         "--port", str(member.port), "--bind_ip", "127.0.0.1", "--nounixsocket",
         "--logpath", str(member.log), "--logappend", "--wiredTigerCacheSizeGB", str(cache_gb),
         "--setParameter", f"shutdownTimeoutMillisForSignaledShutdown={SHUTDOWN_TIMEOUT_MS}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command that started it
    )
    member.pid = proc.pid
    while not _answers(member):
        if proc.poll() is not None or time.time() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise WorkspaceError(
                f"replica set member {member.index} (port {member.port}) did not start (exit "
                f"code {proc.poll()}); see {member.log}. If its port is taken by another "
                f"program, stop that, or remove {member.dbpath.parent} and start a new set")
        time.sleep(0.1)


def start(directory: Path, members: int = 3, name: str = DEFAULT_NAME,
          cache_gb: float = DEFAULT_CACHE_GB, timeout: float = 120.0) -> ReplicaSet:
    """Start a replica set in ``directory`` (or restart the members of the one there).

    Args:
        directory: the set's folder (``member-<i>`` data folders and ``replset.json``).
        members: number of members of a new set (1 to 7; 3 survives the loss of one).
        name: the set's name (``replicaSet=`` in the URI) for a new set.
        cache_gb: WiredTiger cache of each member in GB.
        timeout: seconds to wait for the members and the election.

    Returns:
        The running set; every member is primary or secondary.

    Raises:
        WorkspaceError: a member did not start, or no primary was elected in time.
    """
    if not 1 <= members <= MAX_MEMBERS:
        raise WorkspaceError(f"--members must be 1 to {MAX_MEMBERS}, got {members}")
    directory = directory.expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + timeout
    with _locked(directory):
        rs = read(directory)
        fresh = rs is None
        if rs is None:
            if any(directory.glob("member-*")):
                raise WorkspaceError(
                    f"{directory} holds member data folders but no {STATE_FILE}; remove them or "
                    "choose an empty folder")
            ports: set[int] = set()
            while len(ports) < members:
                ports.add(_free_port())
            rs = ReplicaSet(directory, name, [Member(i, p, None, directory / f"member-{i}")
                                              for i, p in enumerate(sorted(ports))])
        try:
            for member in rs.members:
                if not member.alive():
                    _launch(member, rs.name, cache_gb, deadline)
            _write(rs)
            if fresh:
                _initiate(rs)
            wait_until_healthy(rs, deadline - time.time())
        except BaseException:
            if fresh:  # nothing half-started stays behind
                _terminate(rs.members, 10.0)
            raise
    return rs


def _initiate(rs: ReplicaSet) -> None:
    config = {"_id": rs.name,
              "members": [{"_id": m.index, "host": m.host} for m in rs.members],
              "settings": {"electionTimeoutMillis": ELECTION_TIMEOUT_MS}}
    with _client(rs.members[0].port, 10_000) as client:
        client.admin.command("replSetInitiate", config)


def member_states(rs: ReplicaSet) -> dict[int, str]:
    """Each member's state as the set sees it (``PRIMARY``, ``SECONDARY``, ``(not reachable/
    healthy)``, …), by member index; empty when no member answers."""
    import pymongo

    by_host = {m.host: m.index for m in rs.members}
    for member in rs.members:
        if not member.alive():
            continue
        try:
            with _client(member.port, 1000) as client:
                status = client.admin.command("replSetGetStatus")
        except pymongo.errors.PyMongoError:
            continue
        return {by_host[m["name"]]: str(m.get("stateStr", "?")) for m in status["members"]
                if m.get("name") in by_host}
    return {}


def primary(rs: ReplicaSet) -> Member | None:
    """The member that is primary now (None: none, e.g. during an election)."""
    for index, state in member_states(rs).items():
        if state == "PRIMARY":
            return rs.members[index]
    return None


def wait_until_healthy(rs: ReplicaSet, timeout: float) -> float:
    """Wait until there is a primary and every running member is primary or secondary.

    Returns:
        The seconds waited.

    Raises:
        WorkspaceError: not so after ``timeout`` seconds.
    """
    t0 = time.time()
    states: dict[int, str] = {}
    while True:
        running = {m.index for m in rs.members if m.alive()}
        states = member_states(rs)
        if ("PRIMARY" in states.values() and running
                and all(states.get(i) in ("PRIMARY", "SECONDARY") for i in running)):
            return time.time() - t0
        if time.time() - t0 > timeout:
            shown = ", ".join(f"{rs.members[i].host} {s}" for i, s in sorted(states.items()))
            raise WorkspaceError(
                f"replica set {rs.name!r} has no primary with every member up after "
                f"{timeout:.0f} s ({shown or 'no member answers'}); see the logs "
                f"{rs.directory}/member-*/mongod.log")
        time.sleep(0.2)


def _terminate(members: list[Member], timeout: float) -> list[int]:
    """SIGTERM the running ``members``, SIGKILL those still there after ``timeout`` seconds."""
    running = [m for m in members if m.alive()]
    for member in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member.pid or 0, signal.SIGTERM)
    deadline = time.time() + timeout
    while any(m.alive() for m in running) and time.time() < deadline:
        time.sleep(0.1)
    for member in running:
        if member.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid or 0, signal.SIGKILL)
    deadline = time.time() + 10.0  # a SIGKILLed process is gone at once, unless stuck in I/O
    while any(m.alive() for m in running) and time.time() < deadline:
        time.sleep(0.05)
    return [m.pid for m in running if m.pid is not None]


def stop(directory: Path, timeout: float = 30.0) -> list[int]:
    """Shut the set in ``directory`` down (idempotent); ``replset.json`` stays for a restart.

    Args:
        directory: the set's folder.
        timeout: seconds each member gets for a clean shutdown before it is killed.

    Returns:
        The pids that were stopped (empty: nothing ran).
    """
    directory = directory.expanduser().resolve()
    if not (directory / STATE_FILE).is_file():
        return []
    with _locked(directory):
        rs = read(directory)
        if rs is None:
            return []
        stopped = _terminate(rs.members, timeout)
        for member in rs.members:
            member.pid = None
        _write(rs)
    return stopped
