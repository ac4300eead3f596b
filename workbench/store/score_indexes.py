"""The per-run score indexes of the samples collection, kept within MongoDB's index limit.

Every prediction run with scores gets a compound :func:`~workbench.store.predictions.score_index`
per walked key (``wb_scores_<run>_<key>``) and a descending index per ``unc_<run>_<key>`` field
(``wb_unc_<run>_<key>_desc``): 8 indexes a run (3 compound, 5 ``unc_``), 10 with TTA
(4 + 6). MongoDB allows :data:`MAX_INDEXES` per
collection, FiftyOne keeps ~8 of its own there and creates more lazily, so before a run's
indexes are created (:func:`ensure_indexes`) the indexes of *other* runs are dropped until
``existing + missing <= MAX_INDEXES - SPARE``:

1. orphans first: workbench indexes whose field belongs to no recorded prediction run (a
   deleted or rolled-back run, a run still being written by another process: these go in
   the order they were last used);
2. then the least recently used runs, oldest first; within a run its ``unc_`` indexes (only
   the App's sort uses them) before the compound ones (selection's walks).

FiftyOne's indexes and those of the run at hand are never dropped. An evicted compound index
is made again when selection needs it (:func:`ensure_run_indexes`, the same budget making
room); the ``unc_`` indexes are not (the App sorts those fields without an index, slower).

"Used" is a timestamp per run in a small ledger collection (:data:`LEDGER_COLLECTION`, one
document per dataset and ``scores_<run>`` field), set whenever the run's indexes are ensured:
each chunk of predictions written, each selection on the run. A run without a ledger document
(written before the ledger existed) counts as used when it started. The ledger also lists the
run's ``unc_`` fields, so that a run whose record does not list them (``predictions import``)
still owns its indexes; owners are matched by exact field names, never by prefix
(``scores_v_tta`` is not ``scores_v_tta_rot``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.store import connection, runs
from workbench.store.predictions import (
    field_name,
    score_index,
    score_index_name,
    uncertainty_field,
    uncertainty_index_name,
)

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: MongoDB's limit of indexes per collection (``_id_`` included).
MAX_INDEXES = 64
#: Index slots left free for the indexes FiftyOne creates lazily (App filters, sorts).
SPARE = 4
#: The collection of when each run's indexes were last used, and their ``unc_`` fields.
LEDGER_COLLECTION = "workbench_score_indexes"

_EPOCH = dt.datetime(1970, 1, 1)
IndexKey = list[tuple[str, int]]


#: The index on ``tags``: it finds the known negatives among the pool's candidates without
#: reading the pool (:func:`workbench.store.pool.count_scored`). Made with a run's score
#: indexes (:func:`ensure_indexes`), so the first ``select`` does not wait for it. Not ``wb_``:
#: never evicted.
TAGS_INDEX = "workbench_tags"
TAGS_KEY: IndexKey = [("tags", 1)]


def budget() -> int:
    """How many indexes the samples collection may hold after a workbench write."""
    return MAX_INDEXES - SPARE


def ensure_run_indexes(ws: Workspace, scores_field: str, keys: Sequence[str]) -> list[str]:
    """Make sure the compound score indexes of ``keys`` of ``scores_field`` exist (for a walk).

    Re-creates them when they were evicted, making room with :func:`make_room`, and marks
    the run used. One ``index_information()`` call.

    Args:
        ws: the workspace.
        scores_field: the run's ``scores_<run>`` field.
        keys: score keys walked with a ``hint`` (e.g. the strategy's key and the presence key).

    Returns:
        The names of the indexes created now (empty when all existed).
    """
    return ensure_indexes(ws, scores_field, keys)


def ensure_indexes(ws: Workspace, scores_field: str, keys: Sequence[str],
                   unc_fields: Sequence[str] = ()) -> list[str]:
    """Create the missing score indexes of one run within the index budget.

    Args:
        ws: the workspace.
        scores_field: the run's ``scores_<run>`` field.
        keys: keys of ``scores_field`` to index with :func:`score_index`.
        unc_fields: the run's ``unc_<run>_<key>`` fields to index (descending).

    Returns:
        The names of the indexes created now.

    Raises:
        WorkbenchError: even without any other run's index the collection would exceed
            :data:`MAX_INDEXES` (indexes made outside workbench fill it).
    """
    info: dict[str, Any] = ws.samples.index_information()
    wanted: dict[str, IndexKey] = {score_index_name(scores_field, k): score_index(scores_field, k)
                                   for k in dict.fromkeys(keys)}
    present = {_key(i["key"]) for i in info.values()}  # the App may have indexed an unc_ field
    wanted.update({uncertainty_index_name(f): [(f, -1)] for f in dict.fromkeys(unc_fields)
                   if _key([(f, -1)]) not in present})
    wanted[TAGS_INDEX] = TAGS_KEY  # selection's counts need it with the score indexes
    missing = [name for name in wanted if name not in info]  # walks hint at these names
    _touch(ws, scores_field, unc_fields)
    if missing:
        from pymongo import IndexModel  # not at import: the CLI's --help stays light

        make_room(ws, info, len(missing), keep={scores_field, *unc_fields})
        for name in missing:
            ws.samples.create_indexes([IndexModel(wanted[name], name=name)],
                                      **connection.index_options(ws.db))
    return missing


def ensure_tags_index(ws: Workspace) -> None:
    """Create :data:`TAGS_INDEX` if it is missing, within the index budget."""
    info: dict[str, Any] = ws.samples.index_information()
    if TAGS_INDEX in info:
        return
    from pymongo import IndexModel

    make_room(ws, info, 1)
    ws.samples.create_indexes([IndexModel(TAGS_KEY, name=TAGS_INDEX)],
                              **connection.index_options(ws.db))


def make_room(ws: Workspace, info: dict[str, Any], needed: int,
              keep: Iterable[str] = ()) -> list[str]:
    """Drop other runs' score indexes until ``needed`` more fit within :func:`budget`.

    Args:
        ws: the workspace.
        info: ``ws.samples.index_information()``, read just before.
        needed: how many indexes are about to be created.
        keep: fields (``scores_<run>``, ``unc_…``) whose indexes must stay.

    Returns:
        The names of the dropped indexes, in the order dropped.

    Raises:
        WorkbenchError: ``needed`` more would exceed :data:`MAX_INDEXES` even after dropping
            every droppable index (then nothing is dropped). Past :func:`budget` but within
            :data:`MAX_INDEXES` (indexes made outside workbench fill the spare) is no error.
    """
    from pymongo.errors import OperationFailure

    excess = len(info) + needed - budget()
    if excess <= 0:
        return []
    order = eviction_order(ws, info, keep)
    if len(info) - len(order) + needed > MAX_INDEXES:  # checked before anything is dropped
        others = sorted(n for n in info if n not in order and not n.startswith("wb_"))
        raise WorkbenchError(
            f"the samples collection cannot hold {needed} more indexes: MongoDB allows "
            f"{MAX_INDEXES} and {len(info) - len(order)} would remain after dropping every "
            f"other run's score index; drop indexes you made yourself (in Python: "
            f"dataset.drop_index(name)); present besides workbench's: {', '.join(others)}")
    dropped = order[:excess]
    for name in dropped:
        try:
            ws.samples.drop_index(name)
        except OperationFailure as err:  # dropped meanwhile by another process
            if err.code != 27:  # IndexNotFound
                raise
    return dropped


def eviction_order(ws: Workspace, info: dict[str, Any], keep: Iterable[str] = ()) -> list[str]:
    """Names of the workbench score indexes that may be dropped, first to drop first.

    Orphans (their field belongs to no recorded prediction run) by last use, then each run's
    indexes by the run's last use (oldest first), ``unc_`` indexes of a run before its compound
    ones. Indexes of fields in ``keep`` and every index not made by workbench are left out.
    """
    kept = set(keep)
    fields = {name: f for name, f in workbench_indexes(info).items() if f not in kept}
    if not fields:
        return []
    ledger = {d["scores_field"]: d for d in ws.db[LEDGER_COLLECTION].find(
        {"dataset": ws.config.name}, {"scores_field": 1, "unc_fields": 1, "used_at": 1})}
    owner, used = owners(ws, ledger, set(fields.values()))
    unc_used = {f: _naive(d.get("used_at")) for d in ledger.values()
                for f in d.get("unc_fields") or []}

    def rank(name: str) -> tuple[int, dt.datetime, str, int, str]:
        field = fields[name]
        run = owner.get(field)
        if run is None:  # an orphan
            when = _naive(ledger.get(field, {}).get("used_at")) or unc_used.get(field) or _EPOCH
            return 0, when, field, 0, name
        return 1, used[run], run, int(field == run), name

    return sorted(fields, key=rank)


def owners(ws: Workspace, ledger: dict[str, dict[str, Any]], fields: set[str]
           ) -> tuple[dict[str, str], dict[str, dt.datetime]]:
    """Which recorded prediction run owns each field, by exact name.

    Args:
        ws: the workspace.
        ledger: the ledger documents of the dataset by ``scores_field``.
        fields: the indexed fields to attribute (``scores_<run>`` and ``unc_…`` names).

    Returns:
        ``(field -> the owner's scores field, owner's scores field -> when it was last used)``
        for the fields owned by a run of :data:`~workbench.store.runs.PREDICTION_KINDS`.
    """
    kinds = {str(k) for k in runs.PREDICTION_KINDS}
    owner: dict[str, str] = {}
    used: dict[str, dt.datetime] = {}
    unlisted: list[tuple[str, str]] = []
    for doc in runs.list_runs(ws):
        if doc.get("kind") not in kinds:
            continue
        run = str(doc["_id"])
        outputs = doc.get("outputs") or {}
        scores = str(outputs.get("scores_field") or field_name("scores", run))
        entry = ledger.get(scores, {})
        used[scores] = (_naive(entry.get("used_at")) or _naive(doc.get("started_at"))
                        or _EPOCH)
        listed = [*(outputs.get("uncertainty_fields") or []), *(entry.get("unc_fields") or [])]
        for f in [scores, *listed]:
            owner.setdefault(str(f), scores)
        if not listed:
            unlisted.append((run, scores))
    prefix = {run: field_name("unc", run) + "_" for run, _ in unlisted}
    for run, scores in unlisted:  # older records: the unc fields of the keys it stored
        if any(f not in owner and f.startswith(prefix[run]) for f in fields):
            for f in stored_unc_fields(ws, run, scores):
                owner.setdefault(f, scores)
    return owner, used


def stored_unc_fields(ws: Workspace, run: str, scores_field: str) -> list[str]:
    """The ``unc_<run>_<key>`` fields of the keys a stored ``scores_field`` holds."""
    doc = ws.samples.find_one({scores_field: {"$type": "object"}}, {scores_field: 1})
    return [uncertainty_field(run, k) for k in ((doc or {}).get(scores_field) or {})]


def index_field(name: str, key: Any) -> str | None:
    """The field a workbench score index belongs to, or None for any other index.

    A :func:`~workbench.store.predictions.score_index` named ``wb_<scores field>_<key>``
    belongs to its ``scores_<run>`` field (the part of its third key before the dot); a
    one-field descending index named ``wb_<unc field>_desc`` to its ``unc_`` field.
    """
    spec = _key(key)
    if len(spec) == 4:
        scores, _, sub = spec[2][0].partition(".")
        if (sub and scores.startswith("scores_") and name == score_index_name(scores, sub)
                and spec == _key(score_index(scores, sub))):
            return scores
    elif (len(spec) == 1 and spec[0][0].startswith("unc_") and spec[0][1] == -1
          and name == uncertainty_index_name(spec[0][0])):
        return spec[0][0]
    return None


def workbench_indexes(info: dict[str, Any]) -> dict[str, str]:
    """Index name -> owning field of the workbench score indexes in ``info``."""
    return {name: f for name, i in info.items()
            if (f := index_field(name, i["key"])) is not None}


def _touch(ws: Workspace, scores_field: str, unc_fields: Sequence[str]) -> None:
    """Mark the run of ``scores_field`` used now (and note its ``unc_`` fields)."""
    update: dict[str, Any] = {"$set": {"dataset": ws.config.name, "scores_field": scores_field,
                                       "used_at": dt.datetime.now(dt.UTC)}}
    if unc_fields:
        update["$addToSet"] = {"unc_fields": {"$each": list(unc_fields)}}
    ws.db[LEDGER_COLLECTION].update_one({"_id": f"{ws.config.name}/{scores_field}"}, update,
                                        upsert=True)


def forget(ws: Workspace) -> int:
    """Delete the dataset's ledger documents (a dataset being deleted); return how many."""
    return forget_dataset(ws, ws.config.name)


def forget_dataset(ws: Workspace, name: str) -> int:
    """Delete the ledger documents of dataset ``name`` in ``ws``'s database."""
    return int(ws.db[LEDGER_COLLECTION].delete_many({"dataset": name}).deleted_count)


def _key(key: Any) -> tuple[tuple[str, Any], ...]:
    """An index key (``index_information()``'s list or a spec) as a comparable tuple."""
    items = key.items() if isinstance(key, dict) else key
    return tuple((str(k), v if isinstance(v, str) else int(v)) for k, v in items)


def _naive(when: Any) -> dt.datetime | None:
    """A stored time as naive UTC (pymongo returns naive UTC; a fresh value may be aware)."""
    if not isinstance(when, dt.datetime):
        return None
    return when.replace(tzinfo=None) if when.tzinfo else when


__all__ = [
    "LEDGER_COLLECTION",
    "MAX_INDEXES",
    "SPARE",
    "TAGS_INDEX",
    "budget",
    "ensure_indexes",
    "ensure_run_indexes",
    "ensure_tags_index",
    "eviction_order",
    "forget",
    "index_field",
    "make_room",
    "owners",
    "stored_unc_fields",
    "workbench_indexes",
]
