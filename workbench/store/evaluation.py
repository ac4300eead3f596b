"""COCO-style detection evaluation of a view, run by FiftyOne and stored on the samples.

FiftyOne's ``evaluate_detections`` writes per-box ``tp`` / ``fp`` / ``fn`` attributes under the
eval key and per-sample counts, so the App can filter false positives and misses. This module
runs it and returns what the training capability reports, as plain arrays and lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.store import query, schema
from workbench.store.views import labeled_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


@dataclass
class DetectionEvaluation:
    """What one evaluation measured.

    Attributes:
        classes: the evaluated classes, ``K`` of them, in the order of the arrays.
        precision: ``(T, K, R)`` interpolated precision per IoU threshold, class and recall
            point (``-1`` where a class has no ground truth).
        recall: ``(R,)`` the recall points.
        iou_threshs: ``(T,)`` the IoU thresholds.
        pred_label, pred_conf, pred_eval, pred_id: every predicted box of the split (flat,
            ``(P,)``): its label, confidence, ``tp``/``fp`` verdict and id.
        gt_label, gt_match: every ground-truth box (flat, ``(G,)``): its label and the id of
            the prediction it was matched to (None when missed).
    """

    classes: list[str]
    precision: np.ndarray
    recall: np.ndarray
    iou_threshs: np.ndarray
    pred_label: list[str]
    pred_conf: np.ndarray
    pred_eval: list[Any]
    pred_id: list[str]
    gt_label: list[str]
    gt_match: list[Any]


def _split_match(split: str) -> dict[str, Any]:
    return {schema.SPLIT: split, schema.STATUS: "labeled"}


def evaluated_match(split_or_view: str | dict[str, Any]) -> dict[str, Any]:
    """The filter of the labeled samples an evaluation runs on.

    Args:
        split_or_view: a MongoDB sample filter (restricted here to ``status=labeled``), a view
            spec (``split:val,source:cam2``; :data:`workbench.store.views.FORMS`), or a bare
            split name (``val``: what older callers pass).

    Raises:
        ConfigError: an invalid view spec.
    """
    if isinstance(split_or_view, dict):
        labeled = {schema.STATUS: "labeled"}
        return {"$and": [split_or_view, labeled]} if split_or_view else labeled
    if ":" in split_or_view or "," in split_or_view or split_or_view == "all":
        return labeled_match(split_or_view)
    return _split_match(split_or_view)


def labeled_split_boxes(ws: Workspace, split: str) -> dict[str, Any]:
    """Ground-truth boxes of the labeled samples of ``split`` (see :func:`query.box_arrays`)."""
    return query.box_arrays(ws, _split_match(split))


def labeled_view_boxes(ws: Workspace, view: str | dict[str, Any]) -> dict[str, Any]:
    """Ground-truth boxes of a view's labeled samples, with each sample's size in pixels.

    Args:
        ws: the workspace.
        view: a view spec, a split name or a sample filter (see :func:`evaluated_match`).

    Returns:
        What :func:`query.box_arrays` returns plus ``"width"`` and ``"height"``: ``(N,)``
        floats from the samples' metadata (NaN where it was not computed).

    Raises:
        ConfigError: an invalid view spec.
    """
    match = evaluated_match(view)
    boxes = query.box_arrays(ws, match)
    sizes = {d["_id"]: d.get("metadata") or {} for d in ws.samples.find(
        match, {"_id": 1, "metadata.width": 1, "metadata.height": 1})}
    for key in ("width", "height"):
        boxes[key] = np.array([np.nan if sizes.get(i, {}).get(key) is None
                               else float(sizes[i][key]) for i in boxes["ids"]], dtype=np.float64)
    return boxes


def _flat(values: list[Any]) -> list[Any]:
    return [v for per_sample in values for v in (per_sample or [])]


def evaluate_detections(ws: Workspace, split_or_view: str | dict[str, Any], pred_field: str,
                        eval_key: str, iou: float, classes: list[str]) -> DetectionEvaluation:
    """Evaluate ``pred_field`` against the ground truth of a view's labeled samples.

    A previous evaluation under ``eval_key`` is replaced.

    Args:
        ws: the workspace.
        split_or_view: what is evaluated (its ``status=labeled`` samples): a split name, a view
            spec or a sample filter (see :func:`evaluated_match`).
        pred_field: the predictions' Detections field.
        eval_key: where FiftyOne stores the per-box verdicts.
        iou: the IoU of the per-box TP/FP/FN verdicts.
        classes: the class list.

    Raises:
        ConfigError: an invalid view spec.
    """
    match = evaluated_match(split_or_view)
    ds = ws.dataset
    if eval_key in ds.list_evaluations():
        ds.delete_evaluation(eval_key)
    view = ds.match(match)
    results = view.evaluate_detections(pred_field, gt_field=schema.GROUND_TRUTH,
                                       eval_key=eval_key, method="coco", iou=iou,
                                       compute_mAP=True, classes=classes)
    p_label, p_conf, p_eval, p_id = view.values([
        f"{pred_field}.detections.label", f"{pred_field}.detections.confidence",
        f"{pred_field}.detections.{eval_key}", f"{pred_field}.detections.id"])
    g_label, g_match = view.values([f"{schema.GROUND_TRUTH}.detections.label",
                                    f"{schema.GROUND_TRUTH}.detections.{eval_key}_id"])
    return DetectionEvaluation(
        classes=list(results.classes), precision=np.asarray(results.precision),
        recall=np.asarray(results.recall), iou_threshs=np.asarray(results.iou_threshs),
        pred_label=_flat(p_label), pred_conf=np.asarray(_flat(p_conf), float),
        pred_eval=_flat(p_eval), pred_id=_flat(p_id), gt_label=_flat(g_label),
        gt_match=_flat(g_match))
