"""Saved views of the daily work, for the FiftyOne App's view selector.

:func:`save_work_views` (re)creates, from what the run records say exists now:

- ``queue``: the latest selection round's images that are queued or in annotation;
- ``pool-by-uncertainty``: the unlabeled pool, most uncertain first, by the per-image score of
  the latest selection that scored with one (``unc_<run>_<key>`` when that top-level field
  exists, else ``scores_<run>.<key>``);
- ``eval-false-positives`` / ``eval-misses``: the latest evaluation's false-positive boxes (at
  its deploy confidence threshold) and missed ground-truth boxes, only samples that have some;
- ``uncertain-band``: the latest prediction run's boxes with a confidence in the uncertain band
  (:data:`UNCERTAIN_BAND`, or the ``--conf-band`` of the latest selection when it had one).

A view whose subject does not exist yet (no round, no evaluation …) is not created. Every view
made here carries :data:`MARK` at the end of its description; views without it are the user's
and are never changed or deleted (a user view holding one of these names keeps it, and that
work view is skipped; a work view the user renamed is left alone). The description names
everything the view depends on, so a view whose description is unchanged is up to date: when
nothing changed, the call is a few pymongo reads and FiftyOne is not imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.store import pool, predictions, schema
from workbench.store.runs import PREDICTION_KINDS, RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: Ends the description of every saved view made here (how they are told from the user's).
MARK = "[workbench]"
#: Confidence band of ``uncertain-band`` when the latest selection had no ``--conf-band``.
UNCERTAIN_BAND = (0.1, 0.5)

QUEUE = "queue"
POOL_BY_UNCERTAINTY = "pool-by-uncertainty"
EVAL_FALSE_POSITIVES = "eval-false-positives"
EVAL_MISSES = "eval-misses"
UNCERTAIN = "uncertain-band"
#: Every work view, in the order they are saved.
WORK_VIEWS = (QUEUE, POOL_BY_UNCERTAINTY, EVAL_FALSE_POSITIVES, EVAL_MISSES, UNCERTAIN)

#: FiftyOne's collection of saved view documents.
_VIEWS_COLLECTION = "views"
_NO_BULK = {"outputs.sample_ids": 0, "outputs.scores": 0, "outputs.manifest": 0,
            "outputs.per_class": 0, "outputs.confusion": 0}


@dataclass(frozen=True)
class WorkView:
    """One saved view to make.

    Attributes:
        name: its name (a slug already).
        description: what it shows and from which runs and fields, ending with :data:`MARK`.
        build: ``dataset -> view`` (FiftyOne is imported by then).
    """

    name: str
    description: str
    build: Callable[[Any], Any]


def save_work_views(ws: Workspace) -> list[str]:
    """(Re)create the work views of what exists now and delete the stale ones made before.

    Cheap: a few reads of run and view documents; FiftyOne is loaded only when a view has to
    change. Call it after a command changed what they show (select, evaluate, predict).

    Returns:
        The names of the work views the dataset has now, in :data:`WORK_VIEWS` order.
    """
    wanted = work_views(ws)
    existing = saved_view_docs(ws)
    ours = {str(d["name"]): d for d in existing if _is_ours(d)}
    taken = {str(d.get(k)) for d in existing if not _is_ours(d) for k in ("name", "slug")}
    kept = [v for v in wanted if v.name not in taken]
    stale = [name for name in ours if name in WORK_VIEWS and name not in {v.name for v in kept}]
    changed = [v for v in kept if (ours.get(v.name) or {}).get("description") != v.description]
    if stale or changed:
        ds = ws.dataset
        for name in stale:
            ds.delete_saved_view(name)
        for view in changed:
            ds.save_view(view.name, view.build(ds), description=view.description,
                         overwrite=True)
    return [v.name for v in kept]


def work_views(ws: Workspace) -> list[WorkView]:
    """The work views that the workspace's runs call for now (none saved; pymongo reads)."""
    fields = set(schema.field_names(ws))
    found = [_queue(ws), _pool_by_uncertainty(ws, fields), *_evaluation(ws, fields),
             _uncertain_band(ws, fields)]
    return [v for v in found if v is not None]


def list_work_views(ws: Workspace) -> list[str]:
    """Names of the saved views made by :func:`save_work_views` that the dataset has now, in
    :data:`WORK_VIEWS` order."""
    names = [str(d["name"]) for d in saved_view_docs(ws) if _is_ours(d)]
    order = {name: i for i, name in enumerate(WORK_VIEWS)}
    return sorted(names, key=lambda n: order.get(n, len(order)))


def _is_ours(doc: dict[str, Any]) -> bool:
    return str(doc.get("description") or "").endswith(MARK)


def saved_view_docs(ws: Workspace) -> list[dict[str, Any]]:
    """The dataset's saved view documents (name, slug, description), read with pymongo."""
    ids = ws.dataset_document({"saved_views": 1}).get("saved_views") or []
    if not ids:
        return []
    return list(ws.db[_VIEWS_COLLECTION].find(
        {"_id": {"$in": list(ids)}}, {"name": 1, "slug": 1, "description": 1}))


def _latest(ws: Workspace, kinds: tuple[RunKind, ...],
            extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The most recent run of one of ``kinds`` matching ``extra`` (without bulky outputs)."""
    query = {"dataset": ws.config.name, "kind": {"$in": [k.value for k in kinds]},
             **(extra or {})}
    doc: dict[str, Any] | None = ws.runs.find_one(query, _NO_BULK, sort=[("started_at", -1)])
    return doc


def _described(text: str) -> str:
    return f"{text} {MARK}"


def _queue(ws: Workspace) -> WorkView | None:
    doc = _latest(ws, (RunKind.SELECT,))
    if doc is None:
        return None
    round_name = str(doc["_id"])
    match = {schema.ROUND_SELECTED: round_name,
             schema.STATUS: {"$in": ["queued", "in_annotation"]}}
    return WorkView(QUEUE, _described(
        f"The current round {round_name!r}: its images queued or in annotation."),
        lambda ds: ds.match(match))


def _pool_by_uncertainty(ws: Workspace, fields: set[str]) -> WorkView | None:
    """Sorted by the score of the latest selection that walked a stored per-image score
    (``outputs.score_key``; ensembles and random draws store none)."""
    doc = _latest(ws, (RunKind.SELECT,), {"outputs.score_key": {"$type": "string"},
                                          "outputs.model_run": {"$type": "string"}})
    if doc is None:
        return None
    run, key = str(doc["outputs"]["model_run"]), str(doc["outputs"]["score_key"])
    unc = predictions.uncertainty_field(run, key)
    scores = predictions.field_name("scores", run)
    if unc in fields:
        path = unc
    elif scores in fields:
        path = f"{scores}.{key}"
    else:
        return None
    match = dict(pool.CANDIDATES)
    return WorkView(POOL_BY_UNCERTAINTY, _described(
        f"Unlabeled pool images, most uncertain first: sorted by {path} descending (the score "
        f"of selection {doc['_id']!r}, strategy {doc['params'].get('strategy')!r}, prediction "
        f"run {run!r})."),
        lambda ds: ds.match(match).sort_by(path, reverse=True, create_index=False))


def _evaluation(ws: Workspace, fields: set[str]) -> list[WorkView | None]:
    doc = _latest(ws, (RunKind.EVALUATE,), {"outputs.eval_key": {"$type": "string"}})
    if doc is None:
        return []
    out = doc["outputs"]
    eval_key, pred_field = str(out["eval_key"]), str(out.get("pred_field") or "")
    evaluations = ws.dataset_document({"evaluations": 1}).get("evaluations") or {}
    if eval_key not in evaluations or pred_field not in fields:
        return []
    conf = out.get("conf_threshold")
    what = f"evaluation {eval_key!r} (run {out.get('run')!r} on split {out.get('split')!r})"
    at = f" with confidence >= {conf}" if conf is not None else ""

    def false_positives(ds: Any) -> Any:
        f = view_field()
        keep = f(eval_key) == "fp"
        if conf is not None:
            keep = keep & (f("confidence") >= float(conf))
        return ds.filter_labels(pred_field, keep, only_matches=True)

    def misses(ds: Any) -> Any:
        return ds.filter_labels(schema.GROUND_TRUTH, view_field()(eval_key) == "fn",
                                only_matches=True)

    return [WorkView(EVAL_FALSE_POSITIVES, _described(
                f"False positives of {what}: boxes of {pred_field}{at} that match no "
                "ground truth."), false_positives),
            WorkView(EVAL_MISSES, _described(
                f"Misses of {what}: ground-truth boxes that no box of {pred_field} matched."),
                misses)]


def _uncertain_band(ws: Workspace, fields: set[str]) -> WorkView | None:
    doc = _latest(ws, PREDICTION_KINDS)
    if doc is None:
        return None
    run = str(doc["_id"])
    pred_field = str((doc.get("outputs") or {}).get("field") or predictions.field_name("pred", run))
    if pred_field not in fields:
        return None
    selection = _latest(ws, (RunKind.SELECT,))
    band = ((selection or {}).get("params") or {}).get("conf_band")
    lo, hi = (float(band[0]), float(band[1])) if band else UNCERTAIN_BAND
    origin = f"the --conf-band of selection {selection['_id']!r}" if band and selection else \
        "the default band"
    return WorkView(UNCERTAIN, _described(
        f"Boxes of {pred_field} (prediction run {run!r}) with confidence in [{lo:g}, {hi:g}] "
        f"({origin}): the model's uncertain predictions."),
        lambda ds: ds.filter_labels(pred_field, (view_field()("confidence") >= lo)
                                    & (view_field()("confidence") <= hi), only_matches=True))


def view_field() -> Any:
    """FiftyOne's ``ViewField`` (``F``)."""
    from workbench.store.connection import fiftyone

    return fiftyone().ViewField



def refresh_app(ws: Workspace) -> list[str]:
    """After a prediction run: the App's colours and default fields, and the work views.

    Returns:
        The work views saved now (:func:`save_work_views`).
    """
    from workbench.store import app_config

    app_config.refresh_app_config(ws)
    return save_work_views(ws)
