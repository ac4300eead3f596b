"""Store side of hard-negative mining: an evaluation's verdicts as arrays, the mined views.

:func:`evaluation_arrays` reads, in one query, every predicted and ground-truth box of the
evaluated samples with the per-box ``tp`` / ``fp`` / ``fn`` verdict FiftyOne stored under the
evaluation key. :func:`save_mined_views` saves ``fp_<run>``, ``confusions_<run>`` and
``misses_<run>`` for the App's view selector (marked as the workbench's, see
:data:`workbench.store.app_views.MARK`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.store import schema
from workbench.store.app_views import MARK, saved_view_docs, view_field
from workbench.store.pool import CANDIDATES
from workbench.store.predictions import field_name
from workbench.store.views import labeled_match, view_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace



def _boxes(docs: list[dict[str, Any]], field: str, eval_key: str,
           with_conf: bool) -> dict[str, Any]:
    index: list[int] = []
    labels: list[str] = []
    boxes: list[list[float]] = []
    conf: list[float] = []
    verdict: list[str] = []
    ids: list[str] = []
    for n, doc in enumerate(docs):
        for d in ((doc.get(field) or {}).get("detections")) or []:
            bb = d.get("bounding_box") or []
            index.append(n)
            labels.append(str(d.get("label") or ""))
            boxes.append(bb if len(bb) == 4 else [np.nan] * 4)
            verdict.append(str(d.get(eval_key) or ""))
            ids.append(str(d.get("_id", "")))
            if with_conf:
                c = d.get("confidence")
                conf.append(np.nan if c is None else float(c))
    out = {"sample_index": np.asarray(index, dtype=np.int64),
           "label": np.asarray(labels, dtype=str),
           "xywhn": np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
           "verdict": np.asarray(verdict, dtype=str), "box_id": np.asarray(ids, dtype=str)}
    if with_conf:
        out["confidence"] = np.asarray(conf, dtype=np.float64)
    return out


def evaluation_arrays(ws: Workspace, view: str, pred_field: str,
                      eval_key: str) -> dict[str, Any]:
    """The evaluated boxes of ``view``'s labeled samples, flat, samples sorted by id.

    Args:
        ws: the workspace.
        view: the view spec the evaluation ran on.
        pred_field: the evaluated Detections field.
        eval_key: the evaluation key (per-box verdicts ``tp`` / ``fp`` / ``fn``).

    Returns:
        ``{"ids": [N], "filepath": [N], "width": (N,), "height": (N,), "pred": {...},
        "gt": {...}}``; each of ``pred`` / ``gt`` holds ``sample_index (M,)``, ``label
        (M,)``, ``xywhn (M, 4)``, ``verdict (M,)`` and ``box_id [M]``; ``pred`` also
        ``confidence (M,)``.
    """
    projection = {"_id": 1, "filepath": 1, "metadata.width": 1, "metadata.height": 1}
    for field in (pred_field, schema.GROUND_TRUTH):
        for part in ("label", "bounding_box", "_id", eval_key):
            projection[f"{field}.detections.{part}"] = 1
    projection[f"{pred_field}.detections.confidence"] = 1
    docs = list(ws.samples.find(labeled_match(view), projection).sort("_id", 1))
    meta = [d.get("metadata") or {} for d in docs]
    return {"ids": [d["_id"] for d in docs], "filepath": [d.get("filepath", "") for d in docs],
            "width": np.asarray([m.get("width") or 0 for m in meta], dtype=np.float64),
            "height": np.asarray([m.get("height") or 0 for m in meta], dtype=np.float64),
            "pred": _boxes(docs, pred_field, eval_key, True),
            "gt": _boxes(docs, schema.GROUND_TRUTH, eval_key, False)}


def mined_view_names(run: str) -> dict[str, str]:
    """``{"fp": "fp_<run>", "confusions": ..., "misses": ...}`` (valid field-like names)."""
    return {kind: field_name(kind, run) for kind in ("fp", "confusions", "misses")}


def save_mined_views(ws: Workspace, run: str, pred_field: str, eval_key: str, fp_conf: float,
                     confusion_ids: list[str], what: str) -> list[str]:
    """Save the false positives, class confusions and misses of an evaluation as views.

    Each view keeps only the matching boxes and only samples that have some. A view name
    held by a view of the user's (one without :data:`MARK`) is left alone.

    Args:
        ws: the workspace.
        run: the mined run (names the views).
        pred_field: the evaluated predictions.
        eval_key: the evaluation key.
        fp_conf: least confidence of the false positives shown.
        confusion_ids: ids of the predicted boxes that sit on an object of another class.
        what: the evaluation, in words, for the descriptions.

    Returns:
        The names of the views saved.
    """
    from bson import ObjectId

    names = mined_view_names(run)
    taken = {str(d.get("name")) for d in saved_view_docs(ws)
             if not str(d.get("description") or "").endswith(MARK)}
    ds = ws.dataset
    f = view_field()
    oids = [ObjectId(i) for i in confusion_ids]
    views = {
        "fp": (ds.filter_labels(pred_field, (f(eval_key) == "fp")
                                & (f("confidence") >= float(fp_conf)), only_matches=True),
               f"False positives of {what}: boxes of {pred_field} with confidence >= "
               f"{fp_conf:g} that match no ground truth."),
        "confusions": (ds.filter_labels(pred_field, f("_id").is_in(oids), only_matches=True),
                       f"Class confusions of {what}: false positives with confidence >= "
                       f"{fp_conf:g} that sit on a ground-truth box of another class."),
        "misses": (ds.filter_labels(schema.GROUND_TRUTH, f(eval_key) == "fn",
                                    only_matches=True),
                   f"Misses of {what}: ground-truth boxes no prediction matched."),
    }
    saved = []
    for kind, (view, text) in views.items():
        name = names[kind]
        if name in taken:
            continue
        ds.save_view(name, view, description=f"{text} {MARK}", overwrite=True)
        saved.append(name)
    return saved


def view_samples(ws: Workspace, view: str,
                 status: str | None = None) -> tuple[list[Any], list[str]]:
    """Ids and file paths of the samples of ``view`` (with ``status`` if given), by id."""
    match = view_match(view)
    if status:
        match = {"$and": [match, {schema.STATUS: status}]} if match else {schema.STATUS: status}
    docs = list(ws.samples.find(match, {"_id": 1, "filepath": 1}).sort("_id", 1))
    return [d["_id"] for d in docs], [str(d.get("filepath", "")) for d in docs]


def candidate_vectors(ws: Workspace, emb_field: str) -> tuple[list[Any], list[str], np.ndarray]:
    """The unlabeled pool candidates: ids, file paths and their ``emb_field`` vectors
    (``(P, D)``; only candidates that have one)."""
    docs = list(ws.samples.find({**CANDIDATES, emb_field: {"$type": "array"}},
                                {"_id": 1, "filepath": 1, emb_field: 1}).sort("_id", 1))
    if not docs:
        return [], [], np.zeros((0, 0))
    return ([d["_id"] for d in docs], [str(d.get("filepath", "")) for d in docs],
            np.asarray([d[emb_field] for d in docs], dtype=np.float64))


def candidates(ws: Workspace) -> tuple[list[Any], list[str]]:
    """Ids and file paths of the unlabeled pool candidates, sorted by id."""
    docs = list(ws.samples.find(CANDIDATES, {"_id": 1, "filepath": 1}).sort("_id", 1))
    return [d["_id"] for d in docs], [str(d.get("filepath", "")) for d in docs]



def fresh_evaluation(ws: Workspace, run: str, view: str, iou: float) -> dict[str, Any] | None:
    """The latest evaluation of ``run`` on ``view`` at ``iou`` that is still current.

    Current: its verdicts are stored and no sample of the view changed after it finished
    (writes of later runs count as changes too: then it is simply run again).

    Returns:
        Its ``outputs`` (``eval_key``, ``pred_field``, ``map50`` …) or None.
    """
    doc = ws.runs.find_one({"dataset": ws.config.name, "kind": "evaluate", "params.run": run,
                            "params.view": view, "params.iou": iou},
                           {"outputs.per_class": 0, "outputs.confusion": 0},
                           sort=[("started_at", -1)])
    if doc is None:
        return None
    out: dict[str, Any] = doc.get("outputs") or {}
    evaluations = ws.dataset_document({"evaluations": 1}).get("evaluations") or {}
    if out.get("eval_key") not in evaluations:
        return None
    finished = doc["finished_at"].replace(tzinfo=None) if doc.get("finished_at") else None
    if finished is None or ws.samples.find_one(
            {"$and": [view_match(view), {"last_modified_at": {"$gt": finished}}]},
            {"_id": 1}) is not None:
        return None
    return out


def embedding_source(ws: Workspace, emb_field: str) -> dict[str, Any] | None:
    """Which model wrote ``emb_field``: ``{"kind": "predict", "model": weights, "imgsz": N}``
    for a prediction run's embeddings, ``{"kind": "ssl", "run": name}`` for a pretraining
    run's, None when no run record says."""
    doc = ws.runs.find_one({"dataset": ws.config.name, "kind": "predict",
                            "outputs.embeddings_field": emb_field},
                           {"params": 1}, sort=[("started_at", -1)])
    if doc is not None:
        params = doc.get("params") or {}
        return {"kind": "predict", "model": params.get("model"), "imgsz": params.get("imgsz")}
    for d in ws.runs.find({"dataset": ws.config.name, "kind": "ssl-pretrain"}, {"_id": 1}):
        if field_name("emb", str(d["_id"])) == emb_field:
            return {"kind": "ssl", "run": str(d["_id"])}
    return None
