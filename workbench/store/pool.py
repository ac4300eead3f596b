"""The unlabeled pool as selection sees it: candidates, their scores and boxes, queueing.

Candidates are ``status=unlabeled`` images of the ``pool`` split. Score walks read the
per-image ``scores_<run>.<key>`` written with the predictions through their compound index
(:func:`workbench.store.predictions.score_index`), so "the top n" is a walk of n index entries.
That index may have been dropped to keep the collection within MongoDB's index limit
(:mod:`workbench.store.score_indexes`): a walk whose index is gone makes it again and retries
(selection ensures its indexes up front with one listing,
:func:`~workbench.store.score_indexes.ensure_run_indexes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench.store import journal, query, schema
from workbench.store.predictions import score_index_name
from workbench.store.score_indexes import TAGS_INDEX, ensure_run_indexes, ensure_tags_index

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: The filter of selection candidates (images ingested as known negatives are never offered).
CANDIDATES = {schema.STATUS: "unlabeled", schema.SPLIT: "pool",
              "tags": {"$ne": schema.NEGATIVE_TAG}}


def candidate_ids(ws: Workspace) -> list[Any]:
    """Ids of every candidate, sorted by id."""
    return [d["_id"] for d in ws.samples.find(CANDIDATES, {"_id": 1}).sort("_id", 1)]


def top_scored(ws: Workspace, scores_field: str, key: str, n: int) -> tuple[list[Any], list[float]]:
    """The ``n`` candidates with the highest ``scores_field.key``, ties by id.

    Equality on status/split, then the score in index order: a walk of ``n`` index entries.
    Images without the score sort last (missing < any number) and are left out.

    Returns:
        Their ids and scores, highest first.
    """
    path = f"{scores_field}.{key}"

    def walk() -> tuple[list[Any], list[float]]:
        cursor = ws.samples.find(CANDIDATES, {"_id": 1, path: 1}).sort(
            [(path, -1), ("_id", 1)]).hint(score_index_name(scores_field, key)).limit(n)
        picked: list[Any] = []
        scores: list[float] = []
        for doc in cursor:
            value = (doc.get(scores_field) or {}).get(key)
            if value is None:
                break
            picked.append(doc["_id"])
            scores.append(float(value))
        return picked, scores

    return _on_index(ws, scores_field, key, walk)


def count_scored(ws: Workspace, scores_field: str, key: str) -> int:
    """Candidates that have ``scores_field.key`` (counted on its index)."""
    return _on_index(ws, scores_field, key, lambda: _count(ws, scores_field, key, True))


def count_unscored(ws: Workspace, scores_field: str, key: str) -> int:
    """Candidates without ``scores_field.key`` (not predicted by the run; on its index)."""
    return _on_index(ws, scores_field, key, lambda: _count(ws, scores_field, key, False))


def _count(ws: Workspace, scores_field: str, key: str, scored: bool) -> int:
    """Candidates with (``scored``) or without the score, read from indexes only.

    ``tags`` is not in the score index, so a count with the candidates' tag condition would
    read every pool document (8.9 s for a 1M-image pool). Instead: the ``count`` command on
    the score index's ``(status, split)`` prefix and its null range (key counts, no
    documents), less the known negatives, found through an index on ``tags``.
    """
    name = score_index_name(scores_field, key)
    path = f"{scores_field}.{key}"
    prefix = {schema.STATUS: "unlabeled", schema.SPLIT: "pool"}

    def count(query: dict[str, Any]) -> int:
        reply = ws.db.command("count", ws.sample_collection_name, query=query, hint=name)
        return int(reply["n"])

    from pymongo.errors import OperationFailure

    def negative_scores() -> list[dict[str, Any]]:
        return [doc.get(scores_field) or {} for doc in ws.samples.find(
            {**prefix, "tags": schema.NEGATIVE_TAG}, {scores_field: 1}).hint(TAGS_INDEX)]

    unscored = count({**prefix, path: None})
    total = count(prefix) if scored else 0
    try:
        negatives = negative_scores()
    except OperationFailure:  # the tags index is made with the score indexes; not there yet
        ensure_tags_index(ws)
        negatives = negative_scores()
    negative_scored = sum(1 for d in negatives if d.get(key) is not None)
    if scored:
        return total - unscored - negative_scored
    return unscored - (len(negatives) - negative_scored)


_T = TypeVar("_T")


def _on_index(ws: Workspace, scores_field: str, key: str, read: Callable[[], _T]) -> _T:
    """``read()``, a query hinted at the score index of ``scores_field.key``; when that index
    is gone (evicted to stay within the index limit), make it again and read once more."""
    from pymongo.errors import OperationFailure

    try:
        return read()
    except OperationFailure:
        if score_index_name(scores_field, key) in ws.samples.index_information():
            raise  # failed for another reason
    ensure_run_indexes(ws, scores_field, [key])
    return read()


def has_score(ws: Workspace, scores_field: str, key: str) -> bool:
    """Whether any sample has ``scores_field.key`` (e.g. the TTA disagreement)."""
    return ws.samples.find_one({f"{scores_field}.{key}": {"$exists": True}},
                               {"_id": 1}) is not None


def candidate_boxes(ws: Workspace, pred_field: str,
                    embeddings: str | None = None) -> dict[str, Any]:
    """The boxes of the candidates predicted in ``pred_field``, flat, samples sorted by id.

    Args:
        ws: the workspace.
        pred_field: the ``pred_<run>`` Detections field.
        embeddings: also read this per-sample vector field.

    Returns:
        ``{"ids": [N ids], "sample_index": (M,) int64, "confidence": (M,) float64,
        "label": [M names], "class_probs": [M' vectors] (only boxes that have one),
        "embeddings": [N vectors or None] (empty without ``embeddings``)}``.
    """
    projection: dict[str, Any] = {"_id": 1, f"{pred_field}.detections.confidence": 1,
                                  f"{pred_field}.detections.class_probs": 1,
                                  f"{pred_field}.detections.label": 1}
    if embeddings:
        projection[embeddings] = 1
    match = {**CANDIDATES, pred_field: {"$exists": True}}
    ids: list[Any] = []
    index: list[int] = []
    conf: list[float] = []
    labels: list[str] = []
    probs: list[list[float]] = []
    emb: list[Any] = []
    for n, doc in enumerate(ws.samples.find(match, projection).sort("_id", 1)):
        ids.append(doc["_id"])
        if embeddings:
            emb.append(doc.get(embeddings))
        for d in (doc.get(pred_field) or {}).get("detections") or []:
            index.append(n)
            conf.append(float(d.get("confidence") or 0.0))
            labels.append(d.get("label") or "")
            if d.get("class_probs") is not None:
                probs.append(d["class_probs"])
    return {"ids": ids, "sample_index": np.asarray(index, dtype=np.int64),
            "confidence": np.asarray(conf), "label": labels, "class_probs": probs,
            "embeddings": emb}


def candidate_box_arrays(ws: Workspace, pred_fields: list[str]) -> list[dict[str, Any]]:
    """:func:`~workbench.store.query.box_arrays` of each field over the candidates that have
    all of ``pred_fields`` (the same samples, in the same order, for every field)."""
    match = {**CANDIDATES, "$and": [{f: {"$exists": True}} for f in pred_fields]}
    return [query.box_arrays(ws, match, field=f) for f in pred_fields]


def queue(ws: Workspace, ids: list[Any], round_name: str) -> int:
    """Make samples ``queued`` as selected by round ``round_name`` (status, round, tags)."""
    return query.update_ids(ws, ids, [{"$set": {
        schema.STATUS: "queued", schema.ROUND_SELECTED: round_name,
        "last_modified_at": query.now(),
        "tags": query.retag(list(schema.STATUSES), ["queued", round_name])}}])


def release(ws: Workspace, round_name: str) -> int:
    """Put a round's still-queued images back into the unlabeled pool; return how many."""
    match = {schema.ROUND_SELECTED: round_name, schema.STATUS: "queued"}
    journal.updating_matching(ws, match)
    result = ws.samples.update_many(
        match,
        [{"$set": {schema.STATUS: "unlabeled", schema.ROUND_SELECTED: None,
                   "last_modified_at": query.now(),
                   "tags": query.retag(["queued", round_name], ["unlabeled"])}}])
    return int(result.modified_count)
