"""Write model predictions into ``pred_<run>`` fields in bulk, with per-image scores.

Boxes are plain FiftyOne documents (no ``fo.Detection`` objects) carrying ``confidence`` and,
when known, the full ``class_probs`` vector. Alongside, ``scores_<run>`` holds per-image scores
computed by the caller (selection's strategies, with numpy) and indexed here, so that selection
is a sort on an indexed field. Each score is also a top-level float field
``unc_<run>_<key>`` (:func:`uncertainty_field`), which the App's sidebar can filter and sort by,
and ``show_<run>`` (``display_conf`` of :func:`write_predictions`) is the display copy of
``pred_<run>`` holding only the boxes confident enough to be worth drawing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.boxes import xyxyn_to_xywhn
from workbench.core.segments import segments
from workbench.core.types import Predictions
from workbench.store import journal
from workbench.store.bulk import detections_doc, object_ids
from workbench.store.schema import ensure_fields
from workbench.store.views import view_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

_FIELD_RE = re.compile(r"[^A-Za-z0-9_]")
_CHUNK = 5000
#: The default confidence of the boxes the App shows (``show_<run>``): most boxes of a model
#: kept down to confidence 0.01 for scoring are noise on screen.
DISPLAY_CONF = 0.25


def field_name(prefix: str, run: str) -> str:
    """A valid sample field name such as ``pred_train_20261123``."""
    return f"{prefix}_{_FIELD_RE.sub('_', run)}"


def uncertainty_field(run: str, key: str) -> str:
    """The top-level float field of score ``key`` of run ``run``: ``unc_<run>_<key>``."""
    return field_name("unc", f"{run}_{key}")


def uncertainty_index_name(unc_field: str) -> str:
    """Name of the single-field descending index of ``unc_field``.

    It starts with :func:`score_index_prefix` of the field, so a rollback that removes the
    field drops its index too.
    """
    return score_index_name(unc_field, "desc")


def score_index(scores_field: str, key: str) -> list[tuple[str, int]]:
    """The compound index that answers "pool images by descending score" with an index walk."""
    return [("status", 1), ("split", 1), (f"{scores_field}.{key}", -1), ("_id", 1)]


def score_index_prefix(scores_field: str) -> str:
    """What the names of ``scores_field``'s :func:`score_index` es start with."""
    return f"wb_{scores_field}_"


def score_index_name(scores_field: str, key: str) -> str:
    """Name of :func:`score_index`."""
    return score_index_prefix(scores_field) + key


def view_files(ws: Workspace, view: str) -> tuple[list[Any], list[str]]:
    """Ids and file paths of the samples of view spec ``view``, sorted by id."""
    docs = list(ws.samples.find(view_match(view), {"_id": 1, "filepath": 1}).sort("_id", 1))
    return [d["_id"] for d in docs], [d["filepath"] for d in docs]


def ids_by_filepath(ws: Workspace) -> dict[str, Any]:
    """Every sample's id by its file path."""
    return {d["filepath"]: d["_id"] for d in ws.samples.find({}, {"filepath": 1})}


def write_predictions(ws: Workspace, run: str, sample_ids: list[Any], preds: Predictions,
                      classes: list[str], scores: Mapping[str, np.ndarray] | None = None,
                      indexed: Sequence[str] = (), embeddings: np.ndarray | None = None,
                      tta: tuple[Predictions, np.ndarray] | None = None,
                      per_box: Mapping[str, np.ndarray] | None = None,
                      display_conf: float | None = None,
                      build_indexes: bool = True) -> dict[str, Any]:
    """Set ``pred_<run>`` (and ``scores_<run>``, ``show_<run>``) on the samples with ``bulk_write``.

    Args:
        ws: the workspace.
        run: the prediction run name.
        sample_ids: ``N`` sample ObjectIds; ``preds.image_index`` indexes this list.
        preds: the boxes.
        classes: class names, indexed by ``preds.class_id``.
        scores: per-image scores, key -> ``(N,)`` array, stored as ``scores_<run>.<key>`` (in
            this key order) and as float field ``unc_<run>_<key>`` (indexed, descending);
            None: no ``scores_<run>``.
        indexed: the keys of ``scores`` to index with :func:`score_index`. The indexes are
            made by :func:`workbench.store.score_indexes.ensure_indexes`, which drops the
            indexes of other (orphaned, then least recently used) runs when the collection
            would pass its index budget.
        embeddings: ``(N, D)`` image embeddings to store as ``emb_<run>``.
        tta: ``(boxes of all TTA passes, (M',) pass id per box)``: stored as
            ``pred_<run>_tta`` (boxes with ``tta_pass``).
        per_box: more numeric per-box attributes of ``preds``, name -> ``(M,)`` (an
            ensemble's ``agreement``, the ``raw_confidence`` under a calibration).
        display_conf: also set ``show_<run>``, the display copy holding the boxes of
            ``pred_<run>`` with ``confidence >= display_conf`` (the same box documents, ids
            included), in the same update as ``pred_<run>``. None: no display copy.
        build_indexes: make the score indexes now; False: the caller writes the run in
            parts and calls :func:`index_scores` once at the end (an index that exists makes
            every later write slower).

    Returns:
        ``{"field", "scores_field", "samples", "boxes", "embeddings_field",
        "uncertainty_fields", "display_field"}`` (``uncertainty_fields``: score key ->
        ``unc_`` field; ``display_field``: ``show_<run>`` or None).
    """
    from pymongo import UpdateOne

    field = field_name("pred", run)
    scores_field = field_name("scores", run)
    with_scores = scores is not None
    emb_field = field_name("emb", run)
    tta_field = f"{field}_tta"
    show_field = field_name("show", run)
    declare = {field: "detections"}
    if display_conf is not None:
        declare[show_field] = "detections"
    unc = {key: uncertainty_field(run, key) for key in scores or {}}
    if with_scores:
        declare[scores_field] = "dict"
        declare.update(dict.fromkeys(unc.values(), "float"))
    if embeddings is not None:
        declare[emb_field] = "vector"
    if tta is not None:
        declare[tta_field] = "detections"
    ensure_fields(ws, declare)  # FiftyOne is loaded only when a field is new
    journal.writing_fields(ws, sample_ids, declare)
    n = len(sample_ids)
    # Python lists are made one chunk at a time: for a million images, whole-run lists of
    # every box and class vector would take several GB.
    cols = {"confidence": preds.confidence}
    if preds.class_probs is not None:
        cols["class_probs"] = preds.class_probs
    for name, values in (per_box or {}).items():
        cols[name] = np.asarray(values, dtype=np.float64).reshape(-1)
    main = _Boxes(preds, classes, n, cols)
    passes = None if tta is None else _Boxes(tta[0], classes, n, {
        "confidence": tta[0].confidence, "tta_pass": tta[1]})
    score_matrix = (np.column_stack([np.asarray(v, dtype=np.float64) for v in scores.values()])
                    if scores else np.zeros((n, 0)))
    keys = list(scores or {})
    keep = None if display_conf is None else preds.confidence >= float(display_conf)
    from workbench.core.perf import paused_gc

    with paused_gc():
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            boxes = main.columns(start, stop)
            shown = None if keep is None else keep[main.box_range(start, stop)].tolist()
            tta_boxes = None if passes is None else passes.columns(start, stop)
            score_rows = score_matrix[start:stop].tolist()
            emb_rows = None if embeddings is None else embeddings[start:stop].astype(
                np.float64).tolist()
            ops = []
            for j in range(stop - start):
                dets = _detections(boxes, j)
                update: dict[str, Any] = {field: dets}
                if shown is not None:
                    update[show_field] = _kept(dets, shown, boxes["starts"][j])
                if with_scores:
                    row = score_rows[j]
                    update[scores_field] = dict(zip(keys, row, strict=True))
                    for k, key in enumerate(keys):
                        update[unc[key]] = row[k]
                if emb_rows is not None:
                    update[emb_field] = emb_rows[j]
                if tta_boxes is not None:
                    update[tta_field] = _detections(tta_boxes, j)
                ops.append(UpdateOne({"_id": sample_ids[start + j]}, {"$set": update}))
            if ops:
                ws.samples.bulk_write(ops, ordered=False)
    if with_scores and build_indexes:
        index_scores(ws, scores_field, indexed, list(unc.values()))
    return {"field": field, "scores_field": scores_field, "samples": n, "boxes": len(preds),
            "embeddings_field": emb_field if embeddings is not None else None,
            "uncertainty_fields": unc if with_scores else {},
            "display_field": show_field if display_conf is not None else None}



def unset_run(ws: Workspace, run: str, sample_ids: list[Any],
              unc_fields: Sequence[str] = ()) -> None:
    """Remove run ``run``'s fields (boxes, display copy, scores, embeddings, TTA boxes and
    ``unc_fields``) from the given samples (a run about to be predicted again from scratch;
    the journal saves what is removed)."""
    fields = [field_name("pred", run), field_name("show", run), field_name("scores", run),
              field_name("emb", run), f"{field_name('pred', run)}_tta", *unc_fields]
    journal.writing_fields(ws, sample_ids, fields)
    for start in range(0, len(sample_ids), _CHUNK):
        ws.samples.update_many({"_id": {"$in": sample_ids[start:start + _CHUNK]}},
                               {"$unset": dict.fromkeys(fields, "")})


def index_scores(ws: Workspace, scores_field: str, indexed: Sequence[str],
                 unc_fields: list[str]) -> None:
    """Index a run's scores (``indexed`` keys of ``scores_field``, and its ``unc_`` fields),
    within MongoDB's index limit, evicting other runs' indexes if needed."""
    from workbench.store.score_indexes import ensure_indexes  # it imports this module

    ensure_indexes(ws, scores_field, indexed, unc_fields)


class _Boxes:
    """The boxes of ``N`` images (sorted by image) as Python lists, one chunk at a time."""

    def __init__(self, preds: Predictions, classes: list[str], n: int,
                 per_box: dict[str, np.ndarray]) -> None:
        starts, ends = segments(preds.image_index, np.arange(n))
        self.starts, self.ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        self.labels = np.asarray(classes, dtype=object)
        self.preds = preds
        self.per_box = per_box

    def box_range(self, start: int, stop: int) -> slice:
        """The boxes of images ``start .. stop - 1``."""
        return slice(int(self.starts[start]), int(self.ends[stop - 1]))

    def columns(self, start: int, stop: int) -> dict[str, Any]:
        """Lists of the boxes of images ``start .. stop - 1``, each image's range in them."""
        box = self.box_range(start, stop)
        return {"starts": (self.starts[start:stop] - box.start).tolist(),
                "ends": (self.ends[start:stop] - box.start).tolist(),
                "ids": object_ids(box.stop - box.start),
                "labels": self.labels[self.preds.class_id[box]].tolist(),
                "boxes": xyxyn_to_xywhn(self.preds.xyxy[box]).tolist(),
                "per_box": {k: v[box].tolist() for k, v in self.per_box.items()}}


def _kept(dets: dict[str, Any], shown: list[bool], start: int) -> dict[str, Any]:
    """The ``Detections`` document of the boxes of ``dets`` that ``shown`` keeps (``shown``
    is indexed by box, ``dets``' first box being ``start``)."""
    boxes = dets["detections"]
    return {"_cls": "Detections",
            "detections": list(compress(boxes, shown[start:start + len(boxes)]))}


def _detections(cols: dict[str, Any], i: int) -> dict[str, Any]:
    s, e = cols["starts"][i], cols["ends"][i]
    return detections_doc(cols["labels"][s:e], cols["boxes"][s:e], cols["ids"][s:e],
                          **{k: v[s:e] for k, v in cols["per_box"].items()})
