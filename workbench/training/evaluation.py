"""``workbench evaluate``: predict a split with a run's best weights and evaluate COCO-style.

Predictions are stored as ``pred_<run>``; FiftyOne's COCO evaluation stores per-box ``tp`` /
``fp`` / ``fn`` attributes and per-sample counts under the eval key, so the App can filter
false positives and misses. The report (JSON + PNG) holds mAP50, mAP50-95, per-class AP,
precision/recall at the deploy threshold, a confusion matrix and PR curves.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.types import Predictions
from workbench.errors import WorkbenchError
from workbench.store import app_views, predictions, runs
from workbench.store.evaluation import (
    DetectionEvaluation,
    evaluate_detections,
    labeled_split_boxes,
)
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace
from workbench.training.config import EvalConfig, EvalResult
from workbench.training.weights import offline_environment

__all__ = ["DEPLOY_CONF", "EVAL_CONF", "EVAL_MAX_DET", "EvalConfig", "EvalResult", "evaluate",
           "predict_with_ultralytics", "run_evaluation"]

#: Confidence threshold for precision/recall and the confusion matrix (:class:`EvalConfig`).
DEPLOY_CONF = EvalConfig.deploy_conf
#: Boxes below this confidence are not evaluated (see :class:`EvalConfig`).
EVAL_CONF = EvalConfig.conf
EVAL_MAX_DET = EvalConfig.max_det


def predict_with_ultralytics(weights: str, paths: list[str], imgsz: int, classes: list[str],
                             device: str = "cpu", conf: float = 0.001, iou: float = 0.7,
                             batch: int = 16, max_det: int = 300) -> Predictions:
    """Run Ultralytics prediction over image files; class ids follow ``classes`` (by name).

    Raises:
        WorkbenchError: the model knows classes that ``classes`` does not.
    """
    offline_environment()
    from ultralytics import YOLO

    model = YOLO(weights)
    names = dict(model.names)
    unknown = sorted(set(names.values()) - set(classes))
    if unknown:
        raise WorkbenchError(f"the model {weights} predicts classes outside the workspace "
                             f"list: {unknown}")
    to_ws = np.array([classes.index(names[i]) for i in range(len(names))], dtype=np.int64)
    index: list[np.ndarray] = []
    cls: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    confs: list[np.ndarray] = []
    for start in range(0, len(paths), batch):
        chunk = paths[start:start + batch]
        for k, r in enumerate(model.predict(chunk, imgsz=imgsz, conf=conf, iou=iou,
                                            max_det=max_det, device=device, verbose=False,
                                            batch=len(chunk))):
            b: Any = getattr(r, "boxes")  # noqa: B009  (Results; typed as a union)
            index.append(np.full(len(b), start + k, dtype=np.int64))
            cls.append(to_ws[b.cls.cpu().numpy().astype(np.int64)])
            boxes.append(b.xyxyn.cpu().numpy().astype(np.float64))
            confs.append(b.conf.cpu().numpy().astype(np.float64))
    if not index:
        return Predictions.empty()
    cat = np.concatenate
    return Predictions(cat(boxes), cat(confs), cat(cls), cat(index))


def _weights_of(ws: Workspace, run: str | None, model: str | None) -> tuple[str, str, int]:
    """``(name, weights, imgsz)`` from a training run or a local ``.pt``."""
    if model:
        path = Path(model).expanduser()
        if not path.is_file() or path.suffix != ".pt":
            raise WorkbenchError(f"--model {model!r} is not a local .pt file")
        offline_environment()
        import torch

        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
        imgsz = int((ckpt.get("train_args") or {}).get("imgsz", 640))
        return run or path.stem, str(path.resolve()), imgsz
    if not run:
        raise WorkbenchError("give --run NAME (a training run) or --model PATH.pt")
    doc = runs.get_run(ws, run, kind=RunKind.TRAIN)
    if doc is None:
        raise WorkbenchError(f"no training run named {run!r}; `workbench runs` lists them")
    weights = (doc.get("outputs") or {}).get("weights")
    if doc.get("status") != "completed" or not weights or not Path(weights).is_file():
        raise WorkbenchError(f"run {run!r} has no finished weights (status "
                             f"{doc.get('status')!r}); finish it with `workbench train --resume "
                             f"--run {run}`")
    return run, str(weights), int(doc["params"].get("imgsz", 320))


def evaluate(ws: Workspace, run: str | None = None, split: str = EvalConfig.split,
             iou: float = EvalConfig.iou, device: str = EvalConfig.device,
             model: str | None = None, conf: float = EvalConfig.conf,
             max_det: int = EvalConfig.max_det) -> EvalResult:
    """:func:`run_evaluation` with keyword options (``wb.evaluate(ws, "r1", split="test")``)."""
    return run_evaluation(ws, EvalConfig(run=run, model=model, split=split, conf=conf, iou=iou,
                                         device=device, max_det=max_det))


def run_evaluation(ws: Workspace, config: EvalConfig) -> EvalResult:
    """Predict a split with a run's best weights (or a local ``.pt``), evaluate, store, report.

    Raises:
        WorkbenchError: unknown or unfinished run, empty split, model classes that are not
            the workspace's.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    split, iou, conf, max_det = config.split, config.iou, config.conf, config.max_det
    run, weights, imgsz = _weights_of(ws, config.run, config.model)
    gt = labeled_split_boxes(ws, split)
    if not gt["ids"]:
        raise WorkbenchError(f"split {split!r} has no labeled images to evaluate on")
    preds = predict_with_ultralytics(weights, gt["filepath"], imgsz, ws.classes, config.device,
                                     conf=conf, max_det=max_det)
    pred_field = predictions.write_predictions(ws, run, gt["ids"], preds, ws.classes)["field"]
    eval_key = predictions.field_name("eval", f"{run}_{split}")
    results = evaluate_detections(ws, split, pred_field, eval_key, iou, ws.classes)
    report = _report(results, gt, pred_field, eval_key, run, split, config.deploy_conf)
    report.seconds = round(time.perf_counter() - started, 2)
    out_dir = ws.root / "runs" / "eval" / f"{run}-{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report.report_dir = str(out_dir)
    report.plots = _plots(results, report, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    eval_run = runs.new_run_id("evaluate")
    runs.record_run(ws, RunKind.EVALUATE, eval_run, {"run": run, "model": weights, "split": split,
                                               "iou": iou, "conf": conf, "max_det": max_det},
                    {k: v for k, v in report.to_dict().items() if k != "confusion"},
                    started_at)
    if not config.model:
        runs.update_run(ws, run, set_={f"evaluations.{split}": {
            "map50": report.map50, "map50_95": report.map50_95, "eval_key": eval_key}})
    app_views.save_work_views(ws)
    return report


def _report(results: DetectionEvaluation, gt: dict[str, Any], pred_field: str,
            eval_key: str, run: str, split: str, deploy_conf: float) -> EvalResult:
    classes = results.classes
    precision = results.precision  # (T, K, R)
    t50 = int(np.argmin(np.abs(results.iou_threshs - 0.5)))
    ap_all = np.where(precision >= 0, precision, np.nan)
    with np.errstate(all="ignore"):
        ap50 = np.nanmean(ap_all[t50], axis=1)  # (K,)
        ap = np.nanmean(np.nanmean(ap_all, axis=2), axis=0)  # (K,)
    support = {c: int((gt["label"] == c).sum()) for c in classes}
    has = np.array([support[c] > 0 for c in classes])
    per_class = {c: {"ap50": _f(ap50[k]), "ap50_95": _f(ap[k]), "support": support[c]}
                 for k, c in enumerate(classes)}
    p, r, conf_matrix = _at_threshold(results, len(gt["label"]), deploy_conf)
    return EvalResult(
        run=run, split=split, eval_key=eval_key, pred_field=pred_field,
        map50=_f(np.nanmean(ap50[has])) if has.any() else 0.0,
        map50_95=_f(np.nanmean(ap[has])) if has.any() else 0.0,
        per_class=per_class, precision=p, recall=r, conf_threshold=deploy_conf,
        images=len(gt["ids"]), confusion=conf_matrix)


def _f(x: Any) -> float:
    v = float(x)
    return 0.0 if np.isnan(v) else round(v, 6)


def _at_threshold(results: DetectionEvaluation, n_gt: int,
                  deploy_conf: float) -> tuple[float, float, dict[str, Any]]:
    """Precision, recall and a class confusion matrix counting predictions >= ``deploy_conf``."""
    p_label, p_conf, p_eval, p_id = (results.pred_label, results.pred_conf, results.pred_eval,
                                     results.pred_id)
    g_label, g_match = results.gt_label, results.gt_match
    keep = p_conf >= deploy_conf
    tp = int(sum(1 for e, k in zip(p_eval, keep, strict=True) if k and e == "tp"))
    fp = int(keep.sum()) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / n_gt if n_gt else 0.0
    labels = [*results.classes, "(none)"]
    idx = {c: i for i, c in enumerate(labels)}
    kept_ids = {pid for pid, k in zip(p_id, keep, strict=True) if k}
    pred_label_by_id = dict(zip(p_id, p_label, strict=True))
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for label, match in zip(g_label, g_match, strict=True):
        col = idx[pred_label_by_id[match]] if match in kept_ids else idx["(none)"]
        matrix[idx.get(label, idx["(none)"]), col] += 1
    for label, e, k in zip(p_label, p_eval, keep, strict=True):
        if k and e == "fp":
            matrix[idx["(none)"], idx.get(label, idx["(none)"])] += 1
    return (round(precision, 6), round(recall, 6),
            {"labels": labels, "matrix": matrix.tolist(), "conf_threshold": deploy_conf})


def _plots(results: DetectionEvaluation, report: EvalResult, out_dir: Path) -> list[str]:
    from workbench import plots

    t50 = int(np.argmin(np.abs(results.iou_threshs - 0.5)))
    ap50 = [report.per_class[c]["ap50"] for c in results.classes]
    pr = plots.pr_curves(results.recall, results.precision[t50], list(results.classes), ap50,
                         out_dir / "pr_curves.png",
                         f"{report.run} on {report.split}: PR @ IoU 0.5 (mAP50 "
                         f"{report.map50:.3f})")
    cm = plots.confusion(np.asarray(report.confusion["matrix"]), report.confusion["labels"],
                         out_dir / "confusion.png",
                         f"confusion at conf >= {report.conf_threshold} (rows: ground truth)")
    return [str(pr), str(cm)]
