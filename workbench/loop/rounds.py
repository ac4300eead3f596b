"""``workbench loop next`` and ``workbench loop status``: real active-learning rounds.

``next`` trains on what is labeled (or reuses the latest run trained on exactly these labels),
predicts the unlabeled pool, selects a batch and sends it out: an annotation package, or a
Label Studio project. ``status`` lists the rounds with their label counts and the mAP of the
model behind each, and plots mAP against labeled images over the training runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.loop.config import PACKAGE_BACKEND, NextConfig, NextResult, StatusResult
from workbench.store import rounds as store_rounds
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

__all__ = ["NextConfig", "NextResult", "StatusResult", "loop_status", "next_round"]


def next_round(ws: Workspace, cfg: NextConfig,
               on_epoch: Callable[[int, int, dict[str, float]], None] | None = None
               ) -> NextResult:
    """Train (or reuse), predict the pool, select, send out; see the module docstring."""
    from workbench.prediction.api import PredictConfig, predict
    from workbench.selection.api import SelectConfig, select
    from workbench.training.api import TrainConfig, label_hash, train

    if not store_rounds.has_unlabeled_pool(ws):
        raise WorkbenchError("the pool has no unlabeled images left; ingest more with "
                             "`workbench ingest DIR --format images`")
    key = label_hash(ws, cfg.train_view, cfg.val, ws.classes)
    previous = store_rounds.reusable_train_run(ws, key)
    if previous is not None:
        trained = dict(previous["outputs"])
        reused = True
    else:
        trained = train(ws, TrainConfig(view=cfg.train_view, val=cfg.val, model=cfg.model,
                                        imgsz=cfg.imgsz, epochs=cfg.epochs, batch=cfg.batch,
                                        run=runs.new_run_id("loop-train"),
                                        allow_missing_classes=cfg.allow_missing_classes),
                        on_epoch=on_epoch).to_dict()
        reused = False
    pred_run = runs.new_run_id("loop-pool")
    predict(ws, PredictConfig(model=trained["run"], run=pred_run, view="pool,status:unlabeled",
                              imgsz=cfg.imgsz))
    chosen = select(ws, SelectConfig(n=cfg.budget, run=pred_run, strategy=cfg.strategy))
    result = NextResult(
        round=chosen.round, selected=chosen.selected, strategy=cfg.strategy,
        model_run=trained["run"], model_reused=reused, map50=trained.get("map50"),
        prediction_run=pred_run)
    if cfg.backend == PACKAGE_BACKEND:
        from workbench.annotation.api import PackageConfig, export_package

        out = cfg.out or ws.root / "annotation" / f"{chosen.round}.zip"
        package = export_package(ws, PackageConfig(
            out=out, round=chosen.round, pre_annotations=pred_run,
            pre_annotation_conf=cfg.pre_annotation_conf))
        result.package = package.path
        result.next = (f"give {package.path} to the annotators; then: workbench annotate "
                       f"import {package.path} -w {ws.root}")
    else:
        from workbench.annotation.api import PushConfig, push

        pushed = push(ws, PushConfig(project=cfg.project, round=chosen.round,
                                     pre_annotations=pred_run,
                                     pre_annotation_conf=cfg.pre_annotation_conf, url=cfg.url,
                                     backend=cfg.backend))
        result.project_url = pushed.project_url
        result.next = (f"annotate in {pushed.project_url}; then: workbench annotate pull "
                       f"-w {ws.root}")
    return result


def loop_status(ws: Workspace, plot: Path | None = None) -> StatusResult:
    """Rounds with label counts and their model's mAP; training runs as (labeled, mAP)."""
    trains = [d for d in runs.list_runs(ws, "train") if d.get("status") == "completed"]
    by_weights = {(d.get("outputs") or {}).get("weights"): d for d in trains}
    predicts = {d["_id"]: d for d in runs.list_runs(ws, "predict")}
    counts = store_rounds.status_by_round(ws)
    rounds = []
    for d in runs.list_runs(ws, RunKind.SELECT):
        outputs = d.get("outputs") or {}
        pred = predicts.get(outputs.get("model_run") or "")
        model = by_weights.get((pred or {}).get("params", {}).get("model"))
        rounds.append({
            "round": d["_id"], "strategy": (d.get("params") or {}).get("strategy"),
            "selected": outputs.get("selected"), "status": counts.get(d["_id"], {}),
            "model_run": model["_id"] if model else None,
            "model_train_images": (model or {}).get("outputs", {}).get("train_images"),
            "model_map50": (model or {}).get("outputs", {}).get("map50")})
    trainings = [{"run": d["_id"], "train_images": d["outputs"].get("train_images"),
                  "map50": d["outputs"].get("map50"), "map50_95": d["outputs"].get("map50_95")}
                 for d in trains if d.get("outputs")]
    result = StatusResult(labeled_images=store_rounds.count_labeled(ws), rounds=rounds,
                          trainings=trainings)
    if plot is not None and trainings:
        from workbench.plots import tradeoff

        plot.parent.mkdir(parents=True, exist_ok=True)
        points = [t for t in trainings if t["train_images"] is not None]
        result.plot = str(tradeoff(points, "train_images", "map50", "run", plot,
                                      "mAP50 by labeled training images"))
    return result
