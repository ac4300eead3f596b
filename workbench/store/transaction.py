"""Multi-document transactions for label changes, where the deployment has them.

On a replica set (or a sharded cluster) a label change (an annotation import or its undo, a
selection round) runs as one MongoDB transaction: other readers (a second CLI process, the
App) see all of it or none of it, a failover in the middle aborts it and
``ClientSession.with_transaction`` runs it again on the new primary, and a command killed
half-way leaves nothing behind (the server aborts the transaction). A standalone mongod has no
transactions: there the same code runs as it always did, and the operation journal
(:mod:`workbench.store.journal`) undoes a half-done change (the compensation path).

Inside :func:`atomic` the workspace's pymongo objects (``ws.db``, ``ws.samples``,
``ws.runs``) are bound to the transaction's session (:func:`bind`), so the store's functions
need no ``session`` argument; and the journal records nothing (:func:`journal.active
<workbench.store.journal.active>` is None), because an aborted transaction needs no undo and a
committed one must stay. Commands that are not in the ``CRUD`` subset MongoDB allows in a
transaction (index builds, listing collections, ``estimated_document_count``) run outside it.

A change larger than :data:`MAX_SAMPLES` samples takes the compensation path on any
deployment: MongoDB aborts a transaction that lives longer than
``transactionLifetimeLimitSeconds`` (60 s by default), which a very large import could pass.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

T = TypeVar("T")

#: The largest change (in samples) made in one transaction; ``WORKBENCH_TXN_MAX_SAMPLES``
#: overrides it (0: never use transactions).
MAX_SAMPLES = 20_000

#: How long :func:`atomic` keeps retrying after a lost connection (a failover: an election
#: takes seconds; ``with_transaction`` retries for two minutes of its own).
RETRY_SECONDS = 120.0

#: Collection and database methods that take part in a transaction (they get its session).
_IN_SESSION = frozenset({
    "aggregate", "bulk_write", "count_documents", "delete_many", "delete_one", "distinct",
    "find", "find_one", "find_one_and_delete", "find_one_and_replace", "find_one_and_update",
    "insert_many", "insert_one", "replace_one", "update_many", "update_one"})
#: Methods that return another collection or database, which is bound in turn.
_DERIVED = frozenset({"get_collection", "with_options"})

#: ``(workspace key, session)`` of the transaction open in this thread, or None.
_current: ContextVar[tuple[Any, Any] | None] = ContextVar("workbench_transaction", default=None)


def max_samples() -> int:
    """:data:`MAX_SAMPLES`, or ``WORKBENCH_TXN_MAX_SAMPLES`` where set."""
    return int(os.environ.get("WORKBENCH_TXN_MAX_SAMPLES", MAX_SAMPLES))


def supported(ws: Workspace) -> bool:
    """Whether the workspace's deployment runs multi-document transactions."""
    from workbench.store.connection import replicated

    return replicated(ws.db)


def session_of(ws: Workspace) -> Any:
    """The session of the transaction this thread has open on ``ws``, or None."""
    current = _current.get()
    if current is None or current[0] != _key(ws):
        return None
    return current[1]


def bind(ws: Workspace, target: Any) -> Any:
    """``target`` (a pymongo database or collection of ``ws``), bound to the open
    transaction's session; ``target`` itself outside a transaction."""
    session = session_of(ws)
    return target if session is None else _Bound(target, session)


def atomic(ws: Workspace, body: Callable[[], T], samples: int = 0) -> T:
    """Run ``body`` (the writes of one label change) as one transaction where supported.

    ``body`` may run more than once (a failover or a write conflict aborts the attempt and
    the transaction is retried, as is one whose body lost the connection in a command outside
    the transaction, for up to :data:`RETRY_SECONDS` more), so it must only read and write the
    store. Without transactions, for more than :func:`max_samples` samples, or in a verb that
    another verb called (:func:`lock.nested <workbench.store.lock.nested>`: ``loop next``
    undoes its whole round if a later step fails), it runs once, under the caller's
    operation journal.

    Args:
        ws: the workspace (the caller holds its write lock).
        body: the change.
        samples: how many samples it changes.

    Returns:
        What ``body`` returns.
    """
    from workbench.store import lock  # it imports this module (through the journal)
    from workbench.store.connection import lost_connection

    if (session_of(ws) is not None or lock.nested(ws) or samples > max_samples()
            or not supported(ws)):
        return body()

    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            with ws.db.client.start_session() as session, _open(ws, session):
                result: T = session.with_transaction(lambda _s: body())
                return result
        except Exception as exc:  # a failover outside the transaction's own retries
            if lost_connection(exc) is None or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@contextmanager
def _open(ws: Workspace, session: Any) -> Iterator[None]:
    token = _current.set((_key(ws), session))
    try:
        yield
    finally:
        _current.reset(token)


def _key(ws: Workspace) -> Any:
    from workbench.store.journal import workspace_key

    return workspace_key(ws)


class _Bound:
    """A pymongo database or collection whose transactional methods use ``session``."""

    __slots__ = ("_session", "_target")

    def __init__(self, target: Any, session: Any) -> None:
        self._target = target
        self._session = session

    def __getitem__(self, name: str) -> _Bound:
        return _Bound(self._target[name], self._session)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name in _IN_SESSION:
            return functools.partial(_in_session, attr, self._session)
        if name in _DERIVED:
            return functools.partial(_derived, attr, self._session)
        return attr

    def __repr__(self) -> str:
        return f"{self._target!r} (in a transaction)"


def _in_session(method: Callable[..., Any], session: Any, *args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("session", session)
    return method(*args, **kwargs)


def _derived(method: Callable[..., Any], session: Any, *args: Any, **kwargs: Any) -> _Bound:
    return _Bound(method(*args, **kwargs), session)
