"""One mining pass: a run's evaluation on a view turned into counts and saved views.

The evaluation (FiftyOne's COCO matching, per-box ``tp`` / ``fp`` / ``fn`` verdicts) is reused
when it is current and run otherwise. Confident false positives, class confusions (a false
positive on a ground-truth box of another class) and misses are counted per class, and saved
as ``fp_<run>``, ``confusions_<run>`` and ``misses_<run>`` for the App.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.boxes import xywhn_to_xyxyn
from workbench.core.cocoeval import recall_at_conf
from workbench.core.mining import class_counts, cross_class_matches
from workbench.mining.config import MineConfig, MineResult
from workbench.store import mining as store
from workbench.store.workspace import Workspace


@dataclass
class Evaluated:
    """A run's evaluation as arrays, with the masks a pass derives.

    Attributes:
        eval_key, pred_field: where the verdicts and predictions are stored.
        map50: the evaluation's mAP50.
        arrays: :func:`workbench.store.mining.evaluation_arrays`.
        fp: ``(P,)`` confident false positives among the predictions.
        confused_with: ``(P,)`` index of the ground-truth box of another class a prediction
            sits on (``-1``: none, or not a confident false positive).
    """

    eval_key: str
    pred_field: str
    map50: float
    arrays: dict[str, Any]
    fp: np.ndarray
    confused_with: np.ndarray


def evaluation_of(ws: Workspace, run: str, view: str, iou: float) -> dict[str, Any]:
    """A current evaluation of ``run`` on ``view`` (the stored one, or a new one)."""
    found = store.fresh_evaluation(ws, run, view, iou)
    if found is not None:
        return found
    from workbench.training.api import EvalConfig, evaluate

    return evaluate(ws, EvalConfig(run=run, view=view, iou=iou)).to_dict()


def evaluated(ws: Workspace, config: MineConfig, run: str) -> Evaluated:
    """Evaluate (or reuse) ``run`` on ``config.view`` and derive false positives/confusions."""
    ev = evaluation_of(ws, run, config.view, config.iou)
    arrays = store.evaluation_arrays(ws, config.view, str(ev["pred_field"]), str(ev["eval_key"]))
    pred, gt = arrays["pred"], arrays["gt"]
    fp = (pred["verdict"] == "fp") & (np.nan_to_num(pred["confidence"]) >= config.fp_conf)
    confused = np.full(len(fp), -1, dtype=np.int64)
    idx = np.flatnonzero(fp)
    confused[idx] = cross_class_matches(
        pred["sample_index"][idx], xywhn_to_xyxyn(pred["xywhn"][idx]), pred["label"][idx],
        gt["sample_index"], xywhn_to_xyxyn(gt["xywhn"]), gt["label"], config.iou)
    return Evaluated(str(ev["eval_key"]), str(ev["pred_field"]), float(ev.get("map50", 0.0)),
                     arrays, fp, confused)


def recall_at(ev: Evaluated, conf: float, classes: list[str]) -> dict[str, float | None]:
    """Recall per class counting only matches by predictions with confidence >= ``conf``
    (:func:`workbench.core.cocoeval.recall_at_conf` on the stored verdicts).

    Returns:
        class -> recall (None for a class without ground truth in the view).
    """
    pred, gt = ev.arrays["pred"], ev.arrays["gt"]
    index = {c: k for k, c in enumerate(classes)}
    cls = np.array([index.get(str(x), -1) for x in pred["label"]], dtype=np.int64)
    known = cls >= 0
    n_gt = np.array([int((gt["label"] == c).sum()) for c in classes], dtype=np.int64)
    recall = recall_at_conf((pred["verdict"] == "tp")[known],
                            np.nan_to_num(pred["confidence"][known]), cls[known], n_gt, conf)
    return {c: round(float(recall[k]), 6) if n_gt[k] else None for k, c in enumerate(classes)}


def summarize(ws: Workspace, config: MineConfig, run: str, ev: Evaluated,
              save_views: bool = True) -> MineResult:
    """Counts, per-class table, confusion pairs and the saved views of one pass."""
    pred, gt = ev.arrays["pred"], ev.arrays["gt"]
    classes = ws.classes
    images = len(ev.arrays["ids"])
    misses = gt["verdict"] == "fn"
    confused = ev.confused_with >= 0
    table = class_counts(classes, false_positives=pred["label"][ev.fp],
                         confusions=pred["label"][confused], misses=gt["label"][misses],
                         ground_truth=gt["label"])
    recall = recall_at(ev, config.fp_conf, classes)
    per_class: dict[str, dict[str, Any]] = {c: {**table[c], "recall": recall[c]}
                                            for c in classes}
    pairs: list[dict[str, Any]] = []
    if confused.any():
        actual = gt["label"][ev.confused_with[confused]]
        combo, counts = np.unique(np.stack([pred["label"][confused], actual], axis=1), axis=0,
                                  return_counts=True)
        for k in np.argsort(-counts, kind="stable"):
            pairs.append({"predicted": str(combo[k, 0]), "actual": str(combo[k, 1]),
                          "count": int(counts[k])})
    views: list[str] = []
    if save_views:
        views = store.save_mined_views(
            ws, run, ev.pred_field, ev.eval_key, config.fp_conf,
            pred["box_id"][confused].tolist(),
            f"evaluation {ev.eval_key!r} (run {run!r} on {config.view!r})")
    n_fp = int(ev.fp.sum())
    n_tp = int(((pred["verdict"] == "tp")
                & (np.nan_to_num(pred["confidence"]) >= config.fp_conf)).sum())
    return MineResult(run=run, view=config.view, eval_key=ev.eval_key, images=images,
                      fp_conf=config.fp_conf, false_positives=n_fp, misses=int(misses.sum()),
                      confusions=int(confused.sum()),
                      fp_per_image=round(n_fp / images, 6) if images else 0.0,
                      precision=round(n_tp / (n_tp + n_fp), 6) if n_tp + n_fp else 0.0,
                      per_class=per_class, confusion_pairs=pairs, views=views)
