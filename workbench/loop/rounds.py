"""``workbench loop next`` and ``workbench loop status``: real active-learning rounds.

``next`` trains on what is labeled (or reuses the latest run trained on exactly these labels),
predicts the unlabeled pool, selects a batch and sends it out: an annotation package, or a
Label Studio project. ``status`` lists the rounds with their label counts and the mAP of the
model behind each, and plots mAP against labeled images over the training runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.selection.select import SelectConfig, select
from workbench.store import runs, schema
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace


@dataclass
class NextConfig:
    """Options of ``workbench loop next``.

    Attributes:
        budget: images to select; ``strategy``: selection strategy.
        model, imgsz, epochs, batch: training settings when a new model is needed.
        train_view, val: the training and validation views.
        backend: ``package`` (write a zip) or ``labelstudio`` (push a project).
        out: the package path (default ``WS/annotation/<round>.zip``).
        url, project: the Label Studio server and project.
        pre_annotation_conf: confidence of the pre-annotation boxes sent along.
        allow_missing_classes: train even if some classes have no labeled box yet.
    """

    budget: int = 100
    strategy: str = "entropy"
    model: str = "yolov8n.yaml"
    imgsz: int = 320
    epochs: int = 50
    batch: int = 16
    train_view: str = "split:train"
    val: str = "split:val"
    backend: str = "package"
    out: Path | None = None
    url: str | None = None
    project: str | None = None
    pre_annotation_conf: float = 0.25
    allow_missing_classes: bool = False

    def __post_init__(self) -> None:
        if self.backend not in ("package", "labelstudio"):
            raise ConfigError(f"unknown backend {self.backend!r}; use package or labelstudio")


def reusable_run(ws: Workspace, key: str) -> dict[str, Any] | None:
    """The latest completed training run whose labels hash to ``key``."""
    doc: dict[str, Any] | None = ws.runs.find_one(
        {"dataset": ws.config.name, "kind": RunKind.TRAIN.value, "status": "completed",
         "inputs.label_hash": key}, sort=[("started_at", -1)])
    return doc


def next_round(ws: Workspace, cfg: NextConfig,
               on_epoch: Callable[[int, int, dict[str, float]], None] | None = None
               ) -> dict[str, Any]:
    """Train (or reuse), predict the pool, select, send out; see the module docstring."""
    from workbench.prediction.predict import predict
    from workbench.training.dataset import label_hash
    from workbench.training.runner import TrainConfig, train

    if not ws.samples.find_one({schema.STATUS: "unlabeled", schema.SPLIT: "pool"}):
        raise WorkbenchError("the pool has no unlabeled images left; ingest more with "
                             "`workbench ingest DIR --format images`")
    key = label_hash(ws, cfg.train_view, cfg.val, ws.classes)
    previous = reusable_run(ws, key)
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
    predict(ws, trained["run"], run=pred_run, view="pool,status:unlabeled", imgsz=cfg.imgsz)
    chosen = select(ws, SelectConfig(n=cfg.budget, run=pred_run, strategy=cfg.strategy))
    result: dict[str, Any] = {
        "round": chosen.round, "selected": chosen.selected, "strategy": cfg.strategy,
        "model_run": trained["run"], "model_reused": reused, "map50": trained.get("map50"),
        "prediction_run": pred_run}
    if cfg.backend == "package":
        from workbench.annotation.package import ExportConfig, export_package

        out = cfg.out or ws.root / "annotation" / f"{chosen.round}.zip"
        package = export_package(ws, ExportConfig(
            out=out, round=chosen.round, pre_annotations=pred_run,
            pre_annotation_conf=cfg.pre_annotation_conf))
        result["package"] = package["path"]
        result["next"] = (f"give {package['path']} to the annotators; then: workbench annotate "
                          f"import {package['path']} -w {ws.root}")
    else:
        from workbench.annotation.labelstudio import PushConfig, push

        pushed = push(ws, PushConfig(project=cfg.project, round=chosen.round,
                                     pre_annotations=pred_run,
                                     pre_annotation_conf=cfg.pre_annotation_conf, url=cfg.url))
        result["project_url"] = pushed["project_url"]
        result["next"] = (f"annotate in {pushed['project_url']}; then: workbench annotate pull "
                          f"-w {ws.root}")
    return result


def loop_status(ws: Workspace, plot: Path | None = None) -> dict[str, Any]:
    """Rounds with label counts and their model's mAP; training runs as (labeled, mAP)."""
    trains = [d for d in runs.list_runs(ws, "train") if d.get("status") == "completed"]
    by_weights = {(d.get("outputs") or {}).get("weights"): d for d in trains}
    predicts = {d["_id"]: d for d in runs.list_runs(ws, "predict")}
    counts: dict[str, dict[str, int]] = {}
    for doc in ws.samples.aggregate([
            {"$match": {schema.ROUND_SELECTED: {"$ne": None}}},
            {"$group": {"_id": {"round": f"${schema.ROUND_SELECTED}",
                                "status": f"${schema.STATUS}"}, "n": {"$sum": 1}}}]):
        counts.setdefault(doc["_id"]["round"], {})[doc["_id"]["status"]] = int(doc["n"])
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
    labeled = ws.samples.count_documents({schema.STATUS: "labeled"})
    result: dict[str, Any] = {"labeled_images": labeled, "rounds": rounds,
                              "trainings": trainings}
    if plot is not None and trainings:
        from workbench.plots import tradeoff

        plot.parent.mkdir(parents=True, exist_ok=True)
        points = [t for t in trainings if t["train_images"] is not None]
        result["plot"] = str(tradeoff(points, "train_images", "map50", "run", plot,
                                      "mAP50 by labeled training images"))
    return result
