"""``workbench evaluate``: predict a split or any view with a run's best weights (or a local
``.pt`` / exported ``.onnx``) and evaluate COCO-style.

Predictions are stored as ``pred_<run>``; FiftyOne's COCO evaluation stores per-box ``tp`` /
``fp`` / ``fn`` attributes and per-sample counts under the eval key, so the App can filter
false positives and misses. The report (JSON + PNG) holds mAP50, mAP50-95 (FiftyOne's), AP75,
AP by box size and AR@100 (:mod:`workbench.core.cocoeval`, areas in original-image pixels),
per-class AP, recall at the deploy threshold and at a target precision, the critical classes
below their minimum recall, precision/recall at the deploy threshold, a confusion matrix and PR
curves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.boxes import xywhn_to_xyxyn
from workbench.core.cocoeval import (
    CocoMetrics,
    coco_evaluate,
    recall_at_conf,
    recall_at_precision,
)
from workbench.core.labels import class_ids
from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.store import app_views, predictions, runs
from workbench.store.evaluation import (
    DetectionEvaluation,
    evaluate_detections,
    labeled_view_boxes,
)
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace
from workbench.training.config import EvalConfig, EvalResult
from workbench.training.weights import offline_environment

__all__ = ["DEPLOY_CONF", "EVAL_CONF", "EVAL_MAX_DET", "EvalConfig", "EvalResult",
           "check_critical", "class_ids", "coco_metrics", "evaluate", "finish", "measure",
           "predict_with_ultralytics", "run_evaluation", "view_label", "view_slug"]

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
    """``(name, weights, imgsz)`` from a training run, a local ``.pt`` or an ``.onnx`` export
    (imgsz 0: the ONNX's own input size)."""
    if model:
        path = Path(model).expanduser()
        if not path.is_file() or path.suffix not in (".pt", ".onnx"):
            raise WorkbenchError(f"--model {model!r} is not a local .pt or .onnx file")
        if path.suffix == ".onnx":  # exports are OUT/<run>-<target>/model.onnx
            return run or (path.parent.name if path.stem == "model" else path.stem), \
                str(path.resolve()), 0
        offline_environment()
        import torch

        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
        imgsz = int((ckpt.get("train_args") or {}).get("imgsz", 640))
        return run or path.stem, str(path.resolve()), imgsz
    if not run:
        raise WorkbenchError("give --run NAME (a training run) or --model PATH.pt|.onnx")
    doc = runs.get_run(ws, run, kind=RunKind.TRAIN)
    if doc is None:
        raise WorkbenchError(f"no training run named {run!r}; `workbench runs` lists them")
    weights = (doc.get("outputs") or {}).get("weights")
    if doc.get("status") != "completed" or not weights or not Path(weights).is_file():
        raise WorkbenchError(f"run {run!r} has no finished weights (status "
                             f"{doc.get('status')!r}); finish it with `workbench train --resume "
                             f"--run {run}`")
    return run, str(weights), int(doc["params"].get("imgsz", 320))


def view_slug(split: str, view: str | None) -> str:
    """The name of an evaluation's target in keys and folders: the split for ``--split`` or a
    plain ``split:NAME`` view, else the view spec made a field-name-safe word (with a short
    hash when characters were replaced beyond ``:`` and ``,``)."""
    if not view:
        return split
    parts = [p.strip() for p in view.split(",") if p.strip()]
    if len(parts) == 1 and parts[0].startswith("split:") and re.fullmatch(r"\w+", parts[0][6:]):
        return parts[0][6:]
    spec = ",".join(parts)
    slug = re.sub(r"\W+", "_", spec).strip("_") or "all"
    if not re.fullmatch(r"[\w:,]+", spec):
        slug += "_" + hashlib.sha1(spec.encode()).hexdigest()[:6]
    return slug


def evaluate(ws: Workspace, run: str | None = None, split: str = EvalConfig.split,
             iou: float = EvalConfig.iou, device: str = EvalConfig.device,
             model: str | None = None, conf: float = EvalConfig.conf,
             max_det: int = EvalConfig.max_det, view: str | None = None,
             predictions: str | None = None) -> EvalResult:
    """:func:`run_evaluation` with keyword options (``wb.evaluate(ws, "r1", split="test")``)."""
    return run_evaluation(ws, EvalConfig(run=run, model=model, split=split, conf=conf, iou=iou,
                                         device=device, max_det=max_det, view=view,
                                         predictions=predictions))


def _predict(weights: str, gt: dict[str, Any], imgsz: int, classes: list[str],
             config: EvalConfig) -> tuple[Predictions, int]:
    if weights.endswith(".onnx"):
        from workbench.deployment.api import predict_onnx

        return predict_onnx(weights, gt["filepath"], classes, conf=config.conf,
                            max_det=config.max_det)
    return predict_with_ultralytics(weights, gt["filepath"], imgsz, classes, config.device,
                                    conf=config.conf, max_det=config.max_det), imgsz


def run_evaluation(ws: Workspace, config: EvalConfig) -> EvalResult:
    """Predict a view with a run's best weights (or a local ``.pt`` / ``.onnx``), evaluate,
    store the per-box verdicts, write the report.

    The view is ``config.view`` when given, else the labeled images of ``config.split``. With
    ``config.predictions``, a stored prediction run is evaluated instead
    (:func:`workbench.training.stored_eval.evaluate_stored`).

    Raises:
        WorkbenchError: unknown or unfinished run, empty view, model classes that are not
            the workspace's; ConfigError: an invalid view spec, unknown critical classes.
    """
    if config.predictions:
        from workbench.training.stored_eval import evaluate_stored

        return evaluate_stored(ws, config)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    check_critical(ws, config)
    run, weights, imgsz = _weights_of(ws, config.run, config.model)
    gt = labeled_view_boxes(ws, config.view or config.split)
    if not gt["ids"]:
        raise WorkbenchError(f"{view_label(config)} has no labeled images to evaluate on")
    preds, imgsz = _predict(weights, gt, imgsz, ws.classes, config)
    pred_field = predictions.write_predictions(ws, run, gt["ids"], preds, ws.classes)["field"]
    report, results = measure(ws, config, run, pred_field, gt, preds)
    finish(ws, config, report, results, {"run": run, "model": weights, "imgsz": imgsz},
           started, started_at, on_run=not config.model)
    return report


def view_label(config: EvalConfig) -> str:
    """How messages name what is evaluated: ``view 'source:cam2'`` or ``split 'val'``."""
    return f"view {config.view!r}" if config.view else f"split {config.split!r}"


def check_critical(ws: Workspace, config: EvalConfig) -> None:
    """Refuse critical classes the workspace does not have.

    Raises:
        ConfigError: ``config.critical`` names unknown classes (lists the valid ones).
    """
    unknown = [c for c in config.critical or [] if c not in ws.classes]
    if unknown:
        raise ConfigError(f"--critical names classes the workspace does not have: {unknown}; "
                          f"the classes are {', '.join(ws.classes)}")


def measure(ws: Workspace, config: EvalConfig, run: str, pred_field: str, gt: dict[str, Any],
            preds: Predictions) -> tuple[EvalResult, DetectionEvaluation]:
    """Evaluate the stored field ``pred_field`` on the view's labeled images: FiftyOne's
    per-box verdicts (stored under the eval key) and mAP, the numpy COCO extras and recalls.

    Args:
        ws: the workspace.
        config: the options (view, IoU, thresholds, critical classes).
        run: the name the report and the eval key carry.
        pred_field: the Detections field evaluated.
        gt: the view's ground truth (:func:`labeled_view_boxes`' arrays, ``N`` images).
        preds: the same boxes as ``pred_field``, ``image_index`` into ``gt["ids"]``.

    Returns:
        The report (without timing, folder or plots) and FiftyOne's evaluation.
    """
    target = config.view or config.split  # a view spec, or the split (the store takes both)
    slug = view_slug(config.split, config.view)
    eval_key = predictions.field_name("eval", f"{run}_{slug}")
    results = evaluate_detections(ws, target, pred_field, eval_key, config.iou, ws.classes)
    report = _report(results, gt, pred_field, eval_key, run, target, config.deploy_conf)
    report.view = config.view or f"split:{config.split}"
    _add_coco(report, coco_metrics(gt, preds, ws.classes, config.max_det), ws.classes)
    _add_recall(report, results, config)
    return report, results


def finish(ws: Workspace, config: EvalConfig, report: EvalResult, results: DetectionEvaluation,
           params: dict[str, Any], started: float, started_at: dt.datetime,
           on_run: bool) -> None:
    """Write the report and its plots, record the ``evaluate`` run (``params`` plus the
    options) and, with ``on_run``, the summary under the evaluated run's ``evaluations``."""
    slug = view_slug(config.split, config.view)
    run = report.run
    report.seconds = round(time.perf_counter() - started, 2)
    out_dir = ws.root / "runs" / "eval" / f"{run}-{slug}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report.report_dir = str(out_dir)
    report.plots = _plots(results, report, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    runs.record_run(ws, RunKind.EVALUATE, runs.new_run_id("evaluate"), {
        **params, "split": config.split, "view": report.view, "iou": config.iou,
        "conf": config.conf, "max_det": config.max_det, "deploy_conf": config.deploy_conf,
        "target_precision": config.target_precision, "critical": config.critical or [],
        "min_recall": config.min_recall},
        {k: v for k, v in report.to_dict().items() if k != "confusion"}, started_at)
    if on_run:
        summary: dict[str, Any] = {
            "map50": report.map50, "map50_95": report.map50_95, "eval_key": report.eval_key,
            "view": report.view, "ap75": report.ap75, "ar": report.ar,
            "critical_below": report.critical_below}
        if report.members:
            summary["members"] = report.members
        runs.update_run(ws, run, set_={f"evaluations.{slug}": summary})
    app_views.save_work_views(ws)


def _report(results: DetectionEvaluation, gt: dict[str, Any], pred_field: str,
            eval_key: str, run: str, split: str, deploy_conf: float) -> EvalResult:
    classes = results.classes
    precision = results.precision  # (T, K, R)
    t50 = int(np.argmin(np.abs(results.iou_threshs - 0.5)))
    ap_all = np.where(precision >= 0, precision, np.nan)
    with warnings.catch_warnings():  # classes without ground truth: all NaN, mean NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        ap50 = np.nanmean(ap_all[t50], axis=1)  # (K,)
        ap = np.nanmean(np.nanmean(ap_all, axis=2), axis=0)  # (K,)
    support = {c: int((gt["label"] == c).sum()) for c in classes}
    has = np.array([support[c] > 0 for c in classes])
    per_class: dict[str, dict[str, Any]] = {
        c: {"ap50": _f(ap50[k]), "ap50_95": _f(ap[k]), "support": support[c]}
        for k, c in enumerate(classes)}
    p, r, conf_matrix = _at_threshold(results, len(gt["label"]), deploy_conf)
    return EvalResult(
        run=run, split=split, eval_key=eval_key, pred_field=pred_field,
        map50=_f(np.nanmean(ap50[has])) if has.any() else 0.0,
        map50_95=_f(np.nanmean(ap[has])) if has.any() else 0.0,
        per_class=per_class, precision=p, recall=r, conf_threshold=deploy_conf,
        images=len(gt["ids"]), confusion=conf_matrix)


def _image_sizes(gt: dict[str, Any]) -> np.ndarray:
    """``(N, 2)`` width and height of each evaluated image (metadata; else read from the file)."""
    wh = np.c_[gt["width"], gt["height"]]
    missing = np.flatnonzero(np.isnan(wh).any(axis=1))
    if len(missing):
        from PIL import Image

        for i in missing:  # only images ingested without metadata
            with Image.open(gt["filepath"][i]) as im:
                wh[i] = im.size
    return wh


def coco_metrics(gt: dict[str, Any], preds: Predictions, classes: list[str],
                 max_det: int) -> CocoMetrics:
    """:func:`coco_evaluate` of ``preds`` against ``gt`` in pixels of the original images.

    Args:
        gt: ``N`` images' ground truth: ``sample_index (G,)``, ``label (G,)``, ``xywhn (G, 4)``
            and the images' ``width`` / ``height`` / ``filepath`` (``(N,)`` each).
        preds: relative boxes, ``image_index`` into the same ``N`` images.
        classes: the class list (``K``); ground truth of other classes is left out.
        max_det: boxes per image and class.
    """
    wh = _image_sizes(gt)
    g_cls = class_ids(gt["label"], classes)
    known = g_cls >= 0
    g_img = np.asarray(gt["sample_index"], dtype=np.int64)[known]
    g_xyxy = xywhn_to_xyxyn(np.asarray(gt["xywhn"], dtype=np.float64).reshape(-1, 4)[known])
    g_xyxy = g_xyxy * np.tile(wh[g_img], 2)
    p_xyxy = preds.xyxy * np.tile(wh[preds.image_index], 2)
    return coco_evaluate(preds.image_index, p_xyxy, preds.confidence, preds.class_id, g_img,
                         g_xyxy, g_cls[known], len(classes), max_det=max_det)


def _add_coco(report: EvalResult, m: CocoMetrics, classes: list[str]) -> None:
    """AP75, AP by box size, AR@100 and per-class AP75 / AR (numpy, pixel areas)."""
    index = {c: k for k, c in enumerate(classes)}
    report.ap75, report.ar = _f(m.ap75), _f(m.ar)
    report.ap_small, report.ap_medium, report.ap_large = (
        _opt(m.ap_small), _opt(m.ap_medium), _opt(m.ap_large))
    for c, row in report.per_class.items():
        if c in index:
            row["ap75"], row["ar"] = _f(m.per_class_ap75[index[c]]), _f(m.per_class_ar[index[c]])


def _add_recall(report: EvalResult, results: DetectionEvaluation, config: EvalConfig) -> None:
    """Per-class recall at the deploy threshold and at the target precision (the per-box
    verdicts at ``config.iou``), and the critical classes below ``min_recall``."""
    classes = results.classes
    index = {c: k for k, c in enumerate(classes)}
    p_cls = np.array([index.get(str(x), -1) for x in results.pred_label], dtype=np.int64)
    known = p_cls >= 0
    tp = np.array([e == "tp" for e in results.pred_eval], dtype=bool)[known]
    n_gt = np.array([report.per_class[c]["support"] for c in classes], dtype=np.int64)
    conf = results.pred_conf[known]
    at_deploy = recall_at_conf(tp, conf, p_cls[known], n_gt, config.deploy_conf)
    at_target, thresholds = recall_at_precision(tp, conf, p_cls[known], n_gt,
                                                config.target_precision)
    for k, c in enumerate(classes):
        row = report.per_class[c]
        row["recall"] = _opt(at_deploy[k])
        row["recall_at_precision"] = _opt(at_target[k])
        row["conf_at_precision"] = _opt(thresholds[k])
    report.target_precision = config.target_precision
    report.critical = list(config.critical or [])
    report.min_recall = config.min_recall
    report.critical_below = [c for c in report.critical
                             if c in index and (report.per_class[c]["recall"] or 0.0)
                             < config.min_recall and report.per_class[c]["support"] > 0]


def _f(x: Any) -> float:
    v = float(x)
    return 0.0 if np.isnan(v) else round(v, 6)


def _opt(x: Any) -> float | None:
    """A figure, or None where there was nothing to measure (NaN)."""
    v = float(x)
    return None if np.isnan(v) else round(v, 6)


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
