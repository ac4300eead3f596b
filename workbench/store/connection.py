"""One database per process: pymongo straight away, fiftyone only when it is first needed.

Commands that only read or write documents (``status``, ``runs``, ``select``, imports …) talk
to MongoDB with pymongo and never import fiftyone, which alone costs seconds. FiftyOne is
imported and pointed at the same database lazily, by :func:`fiftyone`, when a command needs it
(the App, evaluation, adding fields, creating a dataset).

FiftyOne keeps a single global MongoDB client per process, so a process uses one database:
workspaces that share an external ``database_uri`` can be opened side by side in one process.
The embedded database is a per-workspace mongod run by :mod:`workbench.store.mongod`, reached
through its URI.

On a replica set (a URI with ``replicaSet=``, several hosts, ``mongodb+srv://``, or a single
host that turns out to be a set member) the URI gets :data:`REPLICA_SET_OPTIONS` where it does
not set them itself: writes wait for a majority of the members (they survive a failover) and
reads and writes are retried once on the newly elected primary. The URI carries them, so
FiftyOne's client (configured from the same URI) uses them too.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench.errors import WorkspaceError

_ENV_DEFAULTS = {
    "FIFTYONE_DO_NOT_TRACK": "true",
    "FIFTYONE_DATABASE_VALIDATION": "false",
    "FIFTYONE_SHOW_PROGRESS_BARS": "false",
}
#: Server selection timeout of the embedded mongod's clients (ms).
_LOCAL_TIMEOUT_MS = 10_000
#: FiftyOne's default database name (``fo.config.database_name``).
DEFAULT_DATABASE_NAME = "fiftyone"
#: Client options of a replica set, unless its URI sets them: majority write concern (an
#: acknowledged write is on most members and survives the loss of the primary), retryable
#: writes and reads (an operation cut by a failover is retried once on the new primary).
REPLICA_SET_OPTIONS = {"w": "majority", "retryWrites": "true", "retryReads": "true"}


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a workspace's data lives: an external URI, or an embedded data directory."""

    uri: str | None
    directory: Path | None

    def describe(self) -> str:
        """Human-readable form for messages (URI credentials hidden)."""
        if self.uri:
            _, sep, tail = self.uri.rpartition("@")
            return f"mongodb://***@{tail}" if sep else self.uri
        return f"embedded mongod in {self.directory}"


_current: DatabaseTarget | None = None
_uri: str | None = None
_client: Any = None
_fiftyone_configured = False


def quiet_environment() -> None:
    """Environment defaults that keep fiftyone offline and quiet (callers can override)."""
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def database_name() -> str:
    """The database FiftyOne uses (``fo.config.database_name``), read without importing it.

    FiftyOne's order: the ``FIFTYONE_DATABASE_NAME`` environment variable, then the
    ``database_name`` of its config file (``FIFTYONE_CONFIG_PATH``, default
    ``~/.fiftyone/config.json``), then ``"fiftyone"``.
    """
    name = os.environ.get("FIFTYONE_DATABASE_NAME")
    if name:
        return name
    path = os.environ.get("FIFTYONE_CONFIG_PATH") or os.path.join(
        os.path.expanduser("~"), ".fiftyone", "config.json")
    try:
        with open(path) as fh:
            value = json.load(fh).get("database_name")
    except (OSError, ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) and value else DEFAULT_DATABASE_NAME


def connect(target: DatabaseTarget) -> Any:
    """Connect to ``target`` with pymongo (once per process) and return the database.

    FiftyOne is not imported; it is pointed at the same database when :func:`fiftyone` first
    imports it (or now, when something imported it already).

    Raises:
        WorkspaceError: the process is already connected elsewhere, or mongod cannot be reached.
    """
    global _current, _uri, _client
    if _current is not None and _current != target:
        raise WorkspaceError(
            f"this process already uses the database {_current.describe()}; it cannot also open "
            f"{target.describe()}. Open the other workspace in a new process (each CLI command "
            "is one), or give both workspaces the same --database-uri"
        )
    quiet_environment()
    if _current is not None:
        return _client[database_name()]
    if target.uri:
        uri = target.uri
    else:
        assert target.directory is not None
        from workbench.store import mongod

        # a local mongod that does not answer for 10 s is gone (killed): every client of
        # this process and its children (FiftyOne's too, through the URI) fails then, not
        # after pymongo's default 30 s per call; an external server keeps the default
        uri = (mongod.ensure_running(target.directory)
               + f"/?serverSelectionTimeoutMS={_LOCAL_TIMEOUT_MS}")
    uri = with_replica_set_options(uri)
    import pymongo

    try:
        client: Any = pymongo.MongoClient(uri, appname="workbench")
        db = client[database_name()]
        db.command("ping")
        found = client.topology_description.topology_type_name  # after the ping: discovered
        if target.uri and found.startswith("ReplicaSet") and uri != with_replica_set_options(
                uri, True):
            client.close()  # one host given, and it is a replica set member
            uri = with_replica_set_options(uri, True)
            client = pymongo.MongoClient(uri, appname="workbench")
            db = client[database_name()]
            db.command("ping")
    except Exception as exc:  # pymongo raises many kinds; all mean "cannot reach"
        raise WorkspaceError(
            f"cannot reach the database ({target.describe()}): {exc}. For an external MongoDB "
            "check the URI and that the server runs (a replica set needs a primary: most of "
            "its members up); for the embedded one check that the environment has mongod "
            "(make env)"
        ) from exc
    # A fiftyone imported later (by this process or by a child, e.g. the App server) reads
    # its database from the environment.
    os.environ["FIFTYONE_DATABASE_URI"] = uri
    _current, _uri, _client = target, uri, client
    atexit.register(_close_at_exit)
    if "fiftyone" in sys.modules:
        fiftyone()
    return db


def _uri_parts(uri: str) -> tuple[str, str, str, str]:
    """``scheme://HOSTS/PATH?QUERY`` -> ``(scheme, hosts, path, query)`` (no DNS lookups)."""
    scheme, _, rest = uri.partition("://")
    hosts, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    return scheme, hosts, path, query


def names_replica_set(uri: str) -> bool:
    """Whether the URI itself says it is a replica set (or a sharded cluster).

    True for a ``replicaSet`` option, several hosts, or ``mongodb+srv://`` (a DNS seed list,
    as managed services give); both kinds support majority writes and retryable writes.
    """
    scheme, hosts, _, query = _uri_parts(uri)
    options = {k.lower() for k, _, _ in (p.partition("=") for p in query.split("&") if p)}
    return scheme == "mongodb+srv" or "replicaset" in options or "," in hosts.rpartition("@")[2]


def with_replica_set_options(uri: str, replica_set: bool | None = None) -> str:
    """``uri`` plus the :data:`REPLICA_SET_OPTIONS` it does not set (options it sets win).

    Args:
        uri: a MongoDB connection string.
        replica_set: whether it is a replica set (None: :func:`names_replica_set`). Other
            URIs come back unchanged.
    """
    if not (names_replica_set(uri) if replica_set is None else replica_set):
        return uri
    scheme, hosts, path, query = _uri_parts(uri)
    given = {k.lower() for k, _, _ in (p.partition("=") for p in query.split("&") if p)}
    added = [f"{k}={v}" for k, v in REPLICA_SET_OPTIONS.items() if k.lower() not in given]
    if not added:
        return uri
    query = "&".join([p for p in query.split("&") if p] + added)
    return f"{scheme}://{hosts}/{path}?{query}"


#: Topologies whose ``createIndexes`` takes a ``commitQuorum``.
_QUORUM_TOPOLOGIES = ("ReplicaSetWithPrimary", "ReplicaSetNoPrimary", "Sharded")


def replicated(db: Any) -> bool:
    """Whether ``db`` is on a replica set or a sharded cluster (which have majority write
    concern, index commit quorums and multi-document transactions)."""
    return db.client.topology_description.topology_type_name in _QUORUM_TOPOLOGIES


def index_options(db: Any) -> dict[str, Any]:
    """Keyword options for ``create_indexes`` on the deployment behind ``db``.

    On a replica set ``{"commitQuorum": "majority"}``: MongoDB's default quorum
    (``votingMembers``) makes an index build on a non-empty collection wait for *every* voting
    member, so while one member is down ``createIndexes`` blocks until it returns (a killed
    member hangs the command). A standalone mongod rejects the option: ``{}`` there.

    Use: ``coll.create_indexes([IndexModel(keys, name=name)], **index_options(ws.db))``.
    """
    return {"commitQuorum": "majority"} if replicated(db) else {}


def durable_concern(db: Any) -> Any:
    """The write concern of records that must survive a crash (the journal): on disk on the
    primary (``j=True``) and, on a replica set, on a majority of members, so a failover
    cannot lose a journal entry whose data write lands on the new primary."""
    from pymongo import WriteConcern

    return WriteConcern(w="majority" if replicated(db) else 1, j=True)


def _close_at_exit() -> None:
    """Close the client at exit without waiting half a second for pymongo's threads.

    pymongo's own exit hook stops and then joins every monitor thread of every client; those
    threads sleep in 0.5 s steps, so each command would end with half a second of waiting.
    Registered after pymongo's hook, this runs first: it closes the client (monitors stopped,
    sockets closed) and, when fiftyone has no client of its own in this process, drops
    pymongo's hook; the monitor threads are daemons and end with the interpreter. Closing
    ends the client's server sessions, which needs a server: bounded to a second, so that a
    process whose mongod was stopped before it exits does not wait out the server-selection
    timeout (10-30 s).
    """
    if _client is not None:
        import pymongo

        with pymongo.timeout(1.0):  # ending the sessions of a stopped server waits no longer
            _client.close()
    if "fiftyone" not in sys.modules:
        monitor = sys.modules.get("pymongo.synchronous.monitor")
        hook = getattr(monitor, "_shutdown_resources", None)
        if hook is not None:
            atexit.unregister(hook)


def fiftyone() -> ModuleType:
    """The ``fiftyone`` module, configured for the connected database (imported on first use).

    Call :func:`connect` first (``ws.db`` does); every store function that needs FiftyOne
    itself (datasets, fields, the App) gets it here.
    """
    global _fiftyone_configured
    import fiftyone as fo

    if not _fiftyone_configured and _uri is not None:
        fo.config.database_uri = _uri
        fo.config.database_validation = False
        fo.config.do_not_track = True
        fo.config.show_progress_bars = False
        _fiftyone_configured = True
    return fo


def current() -> DatabaseTarget | None:
    """The database this process is connected to, if any."""
    return _current


def lost_connection(exc: BaseException) -> BaseException | None:
    """The ``ConnectionFailure`` behind ``exc`` (itself, or anywhere in its chain: FiftyOne
    wraps it in a ``ConnectionError``), or None."""
    if "pymongo" not in sys.modules:
        return None
    from pymongo.errors import ConnectionFailure

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ConnectionFailure):
        cause = cause.__cause__ or cause.__context__
    return cause


def database_failure(exc: BaseException) -> WorkspaceError | None:
    """A user-facing error for a database that went away mid-command (None: not that).

    The command's unfinished operation stays in the journal; the next command (or
    ``workbench recover``), which restarts the embedded mongod, rolls it back.
    """
    global _client
    cause = lost_connection(exc)
    if cause is None:
        return None
    exc = cause
    _client = None  # closing it at exit would wait for the dead server once more
    external = _current is not None and _current.uri is not None
    fix = ("check that the database runs (a replica set elects a new primary while most of "
           "its members run; re-run the command then)" if external else
           "it restarts the embedded database when it stopped")
    return WorkspaceError(
        f"lost the database connection in the middle of the command ({type(exc).__name__}: "
        f"{str(exc).split(' (configured timeouts')[0][:160]}); what it wrote is rolled back "
        f"by the next command that writes, or now by `workbench recover` ({fix})")
