"""``workbench evaluate --predictions RUN``: evaluate a stored prediction run, and put an
ensemble beside its members.

The run's ``pred_<run>`` boxes on the labeled images of the split or view get the report of
:mod:`workbench.training.evaluation` (FiftyOne's per-box verdicts under the eval key, its mAP,
the numpy COCO extras, recalls, critical classes, plots); nothing is predicted.

An ensemble run (kind ``ensemble``, ``params.members``) and a TTA-fused predict run
(``params.fuse``; its passes in ``pred_<run>_tta``, per-box ``tta_pass``, pass 0 the plain one,
named by ``params.tta_pass_names``) are compared with their members: each member's boxes and
the fusion's are scored by :func:`workbench.core.cocoeval.coco_evaluate` on exactly the same
images, the labeled images of the view that hold every one of the fields.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np

from workbench.core.types import Predictions
from workbench.errors import WorkbenchError
from workbench.store import predictions, runs
from workbench.store.run_boxes import view_field_arrays
from workbench.store.runs import PREDICTION_KINDS, RunKind
from workbench.store.schema import GROUND_TRUTH
from workbench.store.workspace import Workspace
from workbench.training.eval_config import EvalConfig, EvalResult
from workbench.training.evaluation import (
    check_critical,
    class_ids,
    coco_metrics,
    finish,
    measure,
    view_label,
)

__all__ = ["evaluate_stored", "member_rows", "pass_names", "stored_predictions"]

#: The per-box attribute that numbers a TTA pass in ``pred_<run>_tta``.
TTA_PASS = "tta_pass"


def evaluate_stored(ws: Workspace, config: EvalConfig) -> EvalResult:
    """Evaluate prediction run ``config.predictions`` on the view's labeled images.

    Everything is read and checked before anything is written; then FiftyOne's verdicts go
    into ``pred_<run>`` under the eval key, the report into ``runs/eval/<run>-<view>/``, an
    ``evaluate`` run is recorded and the summary is set under the run's ``evaluations``.

    Raises:
        WorkbenchError: no prediction run of that name, no labeled image in the view, no box
            of the run on them, members that share no labeled image with the fusion;
            ConfigError: an invalid view spec, unknown critical classes.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    run = str(config.predictions)
    check_critical(ws, config)
    doc = _prediction_run(ws, run)
    view = config.view or f"split:{config.split}"
    pred_field = predictions.field_name("pred", run)
    data = view_field_arrays(ws, view, [GROUND_TRUTH, pred_field], labeled=True)
    if not data["ids"]:
        raise WorkbenchError(f"{view_label(config)} has no labeled images to evaluate on")
    if not len(data[pred_field]["label"]):
        raise WorkbenchError(
            f"prediction run {run!r} has no boxes on the {len(data['ids'])} labeled images of "
            f"{view_label(config)}; evaluate it on images it predicted (--view / --split) or "
            f"predict these (`workbench predict --view {view} ...`)")
    gt = _ground_truth(data)
    preds = stored_predictions(data[pred_field], ws.classes)
    members, member_images = member_rows(ws, doc, view, ws.classes, config.max_det)
    report, results = measure(ws, config, run, pred_field, gt, preds)
    report.members, report.member_images = members, member_images
    params = doc.get("params") or {}
    finish(ws, config, report, results,
           {"run": run, "predictions": run, "predictions_kind": doc.get("kind"),
            "model": params.get("model"), "imgsz": params.get("imgsz")},
           started, started_at, on_run=True)
    return report


def _prediction_run(ws: Workspace, run: str) -> dict[str, Any]:
    """The document of prediction run ``run``.

    Raises:
        WorkbenchError: no run of that name, or one that stored no predictions.
    """
    doc = runs.get_run(ws, run)
    kinds = {RunKind(k).value for k in PREDICTION_KINDS}
    if doc is None:
        names = [str(d["_id"]) for k in kinds for d in runs.list_runs(ws, k)]
        shown = ", ".join(names[-10:]) or "none yet (workbench predict / predictions import)"
        raise WorkbenchError(f"no prediction run named {run!r}; prediction runs: {shown} "
                             "(`workbench runs` lists them all)")
    if doc.get("kind") not in kinds:
        hint = (f"; evaluate a training run's weights with --run {run}"
                if doc.get("kind") == RunKind.TRAIN.value else "")
        raise WorkbenchError(f"run {run!r} is a {doc.get('kind')!r} run, not a stored "
                             f"prediction run ({', '.join(sorted(kinds))}){hint}")
    return doc


def _ground_truth(data: dict[str, Any]) -> dict[str, Any]:
    """The ground-truth arrays of :func:`view_field_arrays`' answer with its images' ids, paths
    and sizes (the form :func:`workbench.training.evaluation.coco_metrics` reads)."""
    return {**data[GROUND_TRUTH], "ids": data["ids"], "filepath": data["filepath"],
            "width": data["width"], "height": data["height"]}


def stored_predictions(boxes: dict[str, Any], classes: list[str]) -> Predictions:
    """Stored boxes as :class:`Predictions`, leaving out those of other classes or without a
    box (a missing confidence counts as 0).

    Args:
        boxes: one field of :func:`view_field_arrays`' answer: ``sample_index (M,)``,
            ``label (M,)``, ``xyxyn (M, 4)``, ``confidence (M,)``.
        classes: the class list the ids index.
    """
    cls = class_ids(boxes["label"], classes)
    xyxy = np.asarray(boxes["xyxyn"], dtype=np.float64).reshape(-1, 4)
    keep = (cls >= 0) & np.isfinite(xyxy).all(axis=1)
    conf = np.nan_to_num(np.asarray(boxes["confidence"], dtype=np.float64)[keep], nan=0.0)
    return Predictions(xyxy[keep], conf, cls[keep],
                       np.asarray(boxes["sample_index"], dtype=np.int64)[keep])


def pass_names(params: dict[str, Any]) -> list[str]:
    """The names of a TTA run's passes by pass id: ``params.tta_pass_names`` (what ``predict``
    records: ``plain``, ``hflip``, ``scale:0.83`` ...), else ``plain`` and ``params.tta_passes``
    (names, or dicts with a ``name``)."""
    names = params.get("tta_pass_names")
    if not names:
        given = [p.get("name") if isinstance(p, dict) else p
                 for p in params.get("tta_passes") or []]
        names = given if given[:1] == ["plain"] else ["plain", *given]
    return [str(n) if n not in (None, "") else "" for n in names]


def _pass_label(k: int, names: list[str]) -> str:
    """``pass K (NAME)`` of pass id ``k`` (``pass K`` for a pass without a name)."""
    name = names[k] if 0 <= k < len(names) else ""
    return f"pass {k} ({name})" if name else f"pass {k}"


def _member_boxes(ws: Workspace, doc: dict[str, Any], view: str
                  ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]] | None:
    """One read of the fusion's and its members' boxes on the view's labeled images that hold
    them all: ``(the read, [(member name, its boxes)])``; None for a run without members."""
    run = str(doc["_id"])
    params = doc.get("params") or {}
    pred_field = predictions.field_name("pred", run)
    if doc.get("kind") == RunKind.ENSEMBLE.value:
        names = [str(m) for m in params.get("members") or []]
        if not names:
            return None
        fields = list(dict.fromkeys(predictions.field_name("pred", m) for m in names))
        data = view_field_arrays(ws, view, [GROUND_TRUTH, *fields, pred_field], labeled=True,
                                 require=[*fields, pred_field])
        return data, [(m, data[predictions.field_name("pred", m)]) for m in names]
    if not params.get("fuse"):
        return None
    tta_field = f"{pred_field}_tta"
    data = view_field_arrays(ws, view, [GROUND_TRUTH, tta_field, pred_field],
                             attrs=("confidence", TTA_PASS), labeled=True,
                             require=[tta_field, pred_field])
    boxes = data[tta_field]
    pass_id = np.nan_to_num(boxes[TTA_PASS], nan=-1.0).astype(np.int64)
    names = pass_names(params)
    ids = sorted({*range(len(names)), *np.unique(pass_id[pass_id >= 0]).tolist()})
    parts = []
    for k in ids:
        mask = pass_id == k
        parts.append((_pass_label(k, names), {
            key: boxes[key][mask] for key in ("sample_index", "label", "xyxyn", "confidence")}))
    return data, parts


def member_rows(ws: Workspace, doc: dict[str, Any], view: str, classes: list[str],
                max_det: int) -> tuple[list[dict[str, Any]], int]:
    """An ensemble's (or a TTA-fused run's) members and its fusion, side by side.

    Args:
        ws: the workspace.
        doc: the prediction run's document.
        view: the view spec whose labeled images are compared.
        classes: the class list.
        max_det: boxes per image and class.

    Returns:
        Rows ``{"run", "role", "map50", "map50_95", "boxes"}``, the members' first (in
        ``params.members`` / pass order) and the fusion's last, all measured on the same
        images; and the number of those images. ``([], 0)`` for a run without members.

    Raises:
        WorkbenchError: no labeled image of the view holds the fusion and every member.
    """
    read = _member_boxes(ws, doc, view)
    if read is None:
        return [], 0
    data, parts = read
    run = str(doc["_id"])
    if not data["ids"]:
        names = ", ".join(name for name, _ in parts)
        raise WorkbenchError(
            f"no labeled image of {view!r} holds the boxes of {run!r} and of all its members "
            f"({names}), so they cannot be compared; predict the members on this view "
            f"(`workbench predict --view {view} --run MEMBER`) or evaluate a view they share")
    gt = _ground_truth(data)
    fusion = (run, data[predictions.field_name("pred", run)])
    rows = []
    for role, (name, boxes) in [*(("member", p) for p in parts), ("fusion", fusion)]:
        m = coco_metrics(gt, stored_predictions(boxes, classes), classes, max_det)
        rows.append({"run": name, "role": role, "map50": _rounded(m.ap50),
                     "map50_95": _rounded(m.ap), "boxes": len(boxes["label"])})
    return rows, len(data["ids"])


def _rounded(x: float) -> float:
    """Six decimals, 0.0 for NaN (no ground truth): the report's rounding."""
    return 0.0 if np.isnan(x) else round(float(x), 6)
