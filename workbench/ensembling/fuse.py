"""``workbench ensemble --runs A,B,...``: fuse stored prediction runs into a new one.

The boxes of every member field (``pred_<run>``) of the view's samples that have all of them
are read in one pass (:func:`~workbench.store.run_boxes.view_field_arrays`), turned into
:class:`~workbench.core.types.Predictions` (class ids from the labels, in the workspace's class
order), fused by a method of :data:`~workbench.ensembling.methods.METHODS` and written exactly as
``predict`` writes a run: ``pred_<run>`` (boxes with ``confidence``, ``class_probs`` when every
member has them, and ``agreement``, the number of members behind each box), ``show_<run>``,
``scores_<run>`` and the ``unc_<run>_<key>`` fields, so ``select --run`` and ``evaluate
--predictions`` take the fused run like any prediction run. Everything is checked before the
first write.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.labels import class_ids
from workbench.core.types import Predictions
from workbench.ensembling.config import EnsembleConfig, EnsembleError, EnsembleResult
from workbench.ensembling.methods import METHODS
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import app_views, datasets, predictions, runs
from workbench.store.run_boxes import view_field_arrays
from workbench.store.runs import PREDICTION_KINDS, RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def check_members(ws: Workspace, members: list[str]) -> list[str]:
    """The ``pred_<run>`` fields of the member runs, after checking each is a stored
    prediction run.

    Raises:
        EnsembleError: a run that does not exist, is not a prediction run, or stored no
            predictions (the message lists the prediction runs there are).
    """
    kinds = {k.value for k in PREDICTION_KINDS}
    fields = []
    for member in members:
        doc = runs.get_run(ws, member)
        field = predictions.field_name("pred", member)
        if doc is None:
            problem = f"no run of this workspace is named {member!r}"
        elif doc.get("kind") not in kinds:
            problem = f"run {member!r} is not a prediction run (kind {doc.get('kind')})"
        elif not datasets.has_sample_field(ws, field):
            problem = f"run {member!r} stored no predictions in this workspace"
        else:
            fields.append(field)
            continue
        known = sorted(str(d["_id"]) for k in PREDICTION_KINDS for d in runs.list_runs(ws, k))
        listed = (", ".join(known) if known else "none yet: make some with `workbench "
                  "predict` or `workbench predictions import`")
        raise EnsembleError(f"{problem}; --runs takes prediction runs ({listed})")
    return fields


def member_predictions(data: dict[str, Any], field: str, classes: list[str], run: str
                       ) -> Predictions:
    """One member's boxes from :func:`view_field_arrays` output as ``Predictions``.

    Args:
        data: what :func:`view_field_arrays` returned (``probs=True``).
        field: the member's field; ``classes``: the workspace's class list; ``run``: the
            member's name, for messages.

    Returns:
        ``M`` boxes (``xyxy (M, 4)`` relative, ``class_probs (M, C)`` when every box has a
        vector of ``C = len(classes)`` values, else None); boxes without finite corners or
        confidence are left out.

    Raises:
        EnsembleError: a label that is not one of ``classes``.
    """
    arrays = data[field]
    cls = class_ids(arrays["label"], classes)
    unknown = sorted({str(n) for n in arrays["label"][cls < 0]})
    if unknown:
        raise EnsembleError(f"run {run!r} has boxes labeled {unknown}, which are not classes of "
                            f"this workspace ({classes}); add them (`workbench init` "
                            "classes) or drop that run from --runs")
    xyxy, conf = arrays["xyxyn"], arrays["confidence"]
    keep = np.isfinite(xyxy).all(axis=1) & np.isfinite(conf)
    probs = arrays.get("class_probs")
    if probs is not None and probs.shape[1] != len(classes):
        probs = None
    return Predictions(xyxy[keep], conf[keep], cls[keep], arrays["sample_index"][keep],
                       None if probs is None else probs[keep])


def _same_probs(members: list[Predictions], n_classes: int) -> list[Predictions]:
    """Members whose ``class_probs`` are all kept or all dropped: a member without boxes gets
    an empty ``(0, C)`` block when the others have vectors; one with boxes but no vectors drops
    them everywhere."""
    with_boxes = [m for m in members if len(m)]
    keep = bool(with_boxes) and all(m.class_probs is not None for m in with_boxes)
    for m in members:
        if not keep:
            m.class_probs = None
        elif not len(m):
            m.class_probs = np.zeros((0, n_classes))
    return members


def fuse_runs(ws: Workspace, config: EnsembleConfig) -> EnsembleResult:
    """Fuse ``config.runs`` over ``config.view`` and store the result as run ``config.run``.

    Raises:
        EnsembleError: an unknown or non-prediction member, labels outside the class list, no
            sample of the view with every member's predictions, an existing run (without
            ``replace``); nothing is written then. ConfigError: an invalid view.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    run = config.run or runs.new_run_id("ensemble")
    existing = runs.get_run(ws, run)
    if existing is not None and not config.replace:
        raise EnsembleError(f"a run named {run!r} exists; choose another --run or --replace")
    fields = check_members(ws, config.runs)
    data = view_field_arrays(ws, config.view, fields, attrs=("confidence",), probs=True,
                             require=fields)
    ids = data["ids"]
    in_view = len(predictions.view_files(ws, config.view)[0])
    if not ids:
        raise EnsembleError(f"no sample of view {config.view!r} ({in_view} samples) has the "
                            f"predictions of every run of {config.runs}; predict the same "
                            "images with each run, or pick a --view they share")
    classes = list(ws.classes)
    members = _same_probs([member_predictions(data, f, classes, r)
                           for f, r in zip(fields, config.runs, strict=True)], len(classes))
    weights = [1.0] * len(members) if config.weights is None else list(config.weights)
    fused, agreement = METHODS.get(config.method)(members, weights, config.iou,
                                                  config.skip_conf)
    scores = image_scores(fused, len(ids))
    written = predictions.write_predictions(ws, run, ids, fused, classes, scores=scores,
                                            indexed=indexed_keys(scores),
                                            per_box={"agreement": agreement},
                                            display_conf=config.display_conf)
    show = written["display_field"]
    skipped = in_view - len(ids)
    warnings = ([f"{skipped} of the {in_view} samples of view {config.view!r} lack the "
                 "predictions of some member run and were not fused; predict them with every "
                 "run to include them"] if skipped else [])
    counts = np.bincount(agreement, minlength=len(members) + 1)
    result = EnsembleResult(
        run=run, members=list(config.runs), method=config.method,
        weights=weights, view=config.view, images=len(ids),
        skipped=skipped, boxes=len(fused), field=written["field"], display_field=show,
        scores_field=written["scores_field"],
        uncertainty_fields=list(written["uncertainty_fields"].values()),
        member_boxes={r: len(m) for r, m in zip(config.runs, members, strict=True)},
        agreement={str(k): int(c) for k, c in enumerate(counts.tolist()) if k and c},
        class_probs=fused.class_probs is not None, warnings=warnings,
        seconds=round(time.perf_counter() - started, 3))
    if existing is not None:
        runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.ENSEMBLE, run,
                    {"members": result.members, "method": config.method,
                     "weights": result.weights, "iou": config.iou,
                     "skip_conf": config.skip_conf, "view": config.view,
                     "display_conf": config.display_conf},
                    {"images": result.images, "boxes": result.boxes, "field": result.field,
                     "skipped": skipped, "display_field": show,
                     "scores_field": result.scores_field,
                     "uncertainty_fields": result.uncertainty_fields,
                     "member_boxes": result.member_boxes, "agreement": result.agreement},
                    started_at)
    app_views.refresh_app(ws)
    return result
