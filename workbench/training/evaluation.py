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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.types import Predictions
from workbench.errors import WorkbenchError
from workbench.store import predictions, query, runs, schema
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace
from workbench.training.weights import offline_environment

#: Confidence threshold for precision/recall and the confusion matrix (a typical deploy one).
DEPLOY_CONF = 0.25
#: Boxes below this confidence are not evaluated (Ultralytics' val uses 0.001 and 300 boxes
#: per image; FiftyOne's per-object matching then takes minutes for a weak model's hundreds
#: of near-zero boxes per image, which barely move mAP).
EVAL_CONF = 0.01
EVAL_MAX_DET = 100


@dataclass
class EvalResult:
    """Report of :func:`evaluate`."""

    run: str
    split: str
    eval_key: str
    pred_field: str
    map50: float
    map50_95: float
    per_class: dict[str, dict[str, float]]
    precision: float
    recall: float
    conf_threshold: float
    images: int
    confusion: dict[str, Any] = field(default_factory=dict)
    report_dir: str = ""
    plots: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


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


def evaluate(ws: Workspace, run: str | None = None, split: str = "val", iou: float = 0.5,
             device: str = "cpu", model: str | None = None, conf: float = EVAL_CONF,
             max_det: int = EVAL_MAX_DET) -> EvalResult:
    """Predict ``split`` with a run's best weights (or a local ``.pt``), evaluate, store, report.

    Args:
        ws: the workspace.
        run: a finished training run (or, with ``model``, the name to store results under).
        split: the split to evaluate on; ``iou``: IoU of the per-box TP/FP/FN fields.
        model: evaluate this ``.pt`` instead of a run's weights.
        conf: minimum confidence of evaluated boxes; ``max_det``: boxes per image.

    Raises:
        WorkbenchError: unknown or unfinished run, empty split, model classes that are not
            the workspace's.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    run, weights, imgsz = _weights_of(ws, run, model)
    if not 0.0 < iou < 1.0:
        raise WorkbenchError(f"--iou must be between 0 and 1, got {iou}")
    match = {schema.SPLIT: split, schema.STATUS: "labeled"}
    gt = query.box_arrays(ws, match)
    if not gt["ids"]:
        raise WorkbenchError(f"split {split!r} has no labeled images to evaluate on")
    preds = predict_with_ultralytics(weights, gt["filepath"], imgsz, ws.classes, device,
                                     conf=conf, max_det=max_det)
    pred_field = predictions.write_predictions(ws, run, gt["ids"], preds, ws.classes,
                                               with_scores=False)["field"]
    eval_key = predictions.field_name("eval", f"{run}_{split}")
    ds = ws.dataset
    if eval_key in ds.list_evaluations():
        ds.delete_evaluation(eval_key)
    view = ds.match(match)
    results = view.evaluate_detections(pred_field, gt_field=schema.GROUND_TRUTH,
                                       eval_key=eval_key, method="coco", iou=iou,
                                       compute_mAP=True, classes=ws.classes)
    report = _report(ws, results, gt, view, pred_field, eval_key, run, split)
    report.seconds = round(time.perf_counter() - started, 2)
    out_dir = ws.root / "runs" / "eval" / f"{run}-{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report.report_dir = str(out_dir)
    report.plots = _plots(results, report, out_dir, ws.classes)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    eval_run = runs.new_run_id("evaluate")
    runs.record_run(ws, RunKind.EVALUATE, eval_run, {"run": run, "model": weights, "split": split,
                                               "iou": iou, "conf": conf, "max_det": max_det},
                    {k: v for k, v in report.to_dict().items() if k != "confusion"},
                    started_at)
    if not model:
        runs.update_run(ws, run, set_={f"evaluations.{split}": {
            "map50": report.map50, "map50_95": report.map50_95, "eval_key": eval_key}})
    return report


def _report(ws: Workspace, results: Any, gt: dict[str, Any], view: Any, pred_field: str,
            eval_key: str, run: str, split: str) -> EvalResult:
    classes = list(results.classes)
    precision = np.asarray(results.precision)  # (T, K, R)
    threshs = np.asarray(results.iou_threshs)
    t50 = int(np.argmin(np.abs(threshs - 0.5)))
    ap_all = np.where(precision >= 0, precision, np.nan)
    with np.errstate(all="ignore"):
        ap50 = np.nanmean(ap_all[t50], axis=1)  # (K,)
        ap = np.nanmean(np.nanmean(ap_all, axis=2), axis=0)  # (K,)
    support = {c: int((gt["label"] == c).sum()) for c in classes}
    has = np.array([support[c] > 0 for c in classes])
    per_class = {c: {"ap50": _f(ap50[k]), "ap50_95": _f(ap[k]), "support": support[c]}
                 for k, c in enumerate(classes)}
    p, r, conf_matrix = _at_threshold(view, pred_field, eval_key, classes, len(gt["label"]))
    return EvalResult(
        run=run, split=split, eval_key=eval_key, pred_field=pred_field,
        map50=_f(np.nanmean(ap50[has])) if has.any() else 0.0,
        map50_95=_f(np.nanmean(ap[has])) if has.any() else 0.0,
        per_class=per_class, precision=p, recall=r, conf_threshold=DEPLOY_CONF,
        images=len(gt["ids"]), confusion=conf_matrix)


def _f(x: Any) -> float:
    v = float(x)
    return 0.0 if np.isnan(v) else round(v, 6)


def _flat(values: list[Any]) -> list[Any]:
    return [v for per_sample in values for v in (per_sample or [])]


def _at_threshold(view: Any, pred_field: str, eval_key: str, classes: list[str],
                  n_gt: int) -> tuple[float, float, dict[str, Any]]:
    """Precision, recall and a class confusion matrix counting predictions >= DEPLOY_CONF."""
    p_label, p_conf, p_eval, p_id = view.values([
        f"{pred_field}.detections.label", f"{pred_field}.detections.confidence",
        f"{pred_field}.detections.{eval_key}", f"{pred_field}.detections.id"])
    g_label, g_match = view.values([f"{schema.GROUND_TRUTH}.detections.label",
                                    f"{schema.GROUND_TRUTH}.detections.{eval_key}_id"])
    p_label, p_conf, p_eval = _flat(p_label), np.asarray(_flat(p_conf), float), _flat(p_eval)
    p_id = _flat(p_id)
    g_label, g_match = _flat(g_label), _flat(g_match)
    keep = p_conf >= DEPLOY_CONF
    tp = int(sum(1 for e, k in zip(p_eval, keep, strict=True) if k and e == "tp"))
    fp = int(keep.sum()) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / n_gt if n_gt else 0.0
    labels = [*classes, "(none)"]
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
            {"labels": labels, "matrix": matrix.tolist(), "conf_threshold": DEPLOY_CONF})


def _plots(results: Any, report: EvalResult, out_dir: Path, classes: list[str]) -> list[str]:
    from workbench import plots

    precision = np.asarray(results.precision)
    t50 = int(np.argmin(np.abs(np.asarray(results.iou_threshs) - 0.5)))
    ap50 = [report.per_class[c]["ap50"] for c in results.classes]
    pr = plots.pr_curves(np.asarray(results.recall), precision[t50], list(results.classes), ap50,
                         out_dir / "pr_curves.png",
                         f"{report.run} on {report.split}: PR @ IoU 0.5 (mAP50 "
                         f"{report.map50:.3f})")
    cm = plots.confusion(np.asarray(report.confusion["matrix"]), report.confusion["labels"],
                         out_dir / "confusion.png",
                         f"confusion at conf >= {DEPLOY_CONF} (rows: ground truth)")
    return [str(pr), str(cm)]
