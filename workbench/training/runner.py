"""``workbench train``: train an Ultralytics detector on a curated view, recorded in the store."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace
from workbench.training.augment import augment_args
from workbench.training.config import TrainConfig, TrainResult
from workbench.training.dataset import YoloDataset, check_critical, export_yolo
from workbench.training.weights import offline_environment, resolve_model

__all__ = ["EpochCallback", "TrainConfig", "TrainResult", "last_checkpoint", "train",
           "ultralytics_args"]

EpochCallback = Callable[[int, int, dict[str, float]], None]


def _run_dir(ws: Workspace, run: str) -> Path:
    return ws.root / "runs" / "train" / run


def last_checkpoint(ws: Workspace, run: str) -> Path:
    """Where a training run keeps its latest checkpoint (what ``--resume`` continues from)."""
    return _run_dir(ws, run) / "weights" / "last.pt"


def _check_views(ds: YoloDataset, config: TrainConfig, classes: list[str]) -> None:
    if ds.train.images == 0:
        raise WorkbenchError(
            f"the training view {config.view!r} has no labeled images; ingest labeled data, "
            "run `workbench split`, or choose another --view")
    if ds.val.images == 0:
        raise WorkbenchError(
            f"the validation view {config.val!r} has no labeled images; run `workbench split` "
            "(it fills split:val) or pass --val VIEW")
    wanted = config.classes or classes
    missing = [c for c in wanted if ds.train.boxes_per_class.get(c, 0) == 0]
    if missing and not config.allow_missing_classes:
        raise WorkbenchError(
            f"classes without a single box in the training view {config.view!r}: {missing}. "
            "The model cannot learn them: label some, move images with `workbench split "
            "--reset`, or pass --allow-missing-classes to train anyway")


def train(ws: Workspace, config: TrainConfig | None = None,
          on_epoch: EpochCallback | None = None, **options: Any) -> TrainResult:
    """Train on ``config.view`` (or resume ``config.run``) and record the run.

    ``wb.train(ws, model="micro-relu", imgsz=224, epochs=30)`` builds the
    :class:`TrainConfig` from keyword options.

    Raises:
        WorkbenchError: empty views, missing classes, bad model spec, a run that exists or
            cannot be resumed, out of memory.
    """
    config = config or TrainConfig(**options)
    offline_environment()
    classes = ws.classes
    if not classes:
        raise WorkbenchError("the workspace has no class list; ingest labeled data first")
    if config.resume:
        return _resume(ws, config, on_epoch)
    model_arg = resolve_model(config.model)
    run = config.run or runs.new_run_id("train")
    if runs.get_run(ws, run) is not None:
        raise WorkbenchError(f"a run named {run!r} exists; pass --resume to continue it or "
                             "choose another --run")
    class_ids = _class_ids(config.classes, classes)
    check_critical(config.critical, classes)
    ds = export_yolo(ws, config.view, config.val, classes, config.critical, config.oversample)
    _check_views(ds, config, classes)
    kwargs = ultralytics_args(config, data=str(ds.yaml), project=ws.root / "runs" / "train",
                              name=run, class_ids=class_ids)
    _check_args(kwargs)
    params = {**asdict(config), "run": run, "model_resolved": model_arg, "classes": classes,
              "train_classes": config.classes, "ultralytics_args": kwargs}
    inputs = {"dataset": str(ds.root), "label_hash": ds.label_hash,
              "train_ids": ds.train.ids, "val_ids": ds.val.ids,
              "train_boxes_per_class": ds.train.boxes_per_class,
              "train_images_repeated": ds.train.repeated,
              "train_images_after_repeats": ds.train.images_after_repeats,
              "train_boxes_per_class_after_repeats": ds.train.boxes_per_class_after_repeats}
    runs.start_run(ws, RunKind.TRAIN, run, params, inputs, on_rollback="interrupted")
    from ultralytics import YOLO

    try:
        model = YOLO(model_arg)
    except Exception as exc:  # Ultralytics raises many kinds for a bad architecture file
        runs.finish_run(ws, run, "failed", {"error": str(exc)}, 0.0)
        raise ConfigError(f"cannot build model {config.model!r}: {exc}") from exc
    result = _fit(ws, run, model, kwargs, on_epoch)
    result.dataset, result.dataset_reused, result.label_hash = (str(ds.root), ds.reused,
                                                                 ds.label_hash)
    result.train_images, result.val_images = ds.train.images, ds.val.images
    result.train_images_repeated = ds.train.repeated
    result.train_images_after_repeats = ds.train.images_after_repeats
    runs.update_run(ws, run, set_={"outputs": result.to_dict()})
    return result


def _class_ids(names: list[str] | None, classes: list[str]) -> list[int] | None:
    """Workspace class ids of ``--classes`` names (None: every class).

    Raises:
        ConfigError: a name is not a workspace class (the message lists the known ones).
    """
    if not names:
        return None
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ConfigError(f"--classes: unknown classes {unknown}; the workspace's classes are "
                          f"{', '.join(classes)}")
    return [classes.index(n) for n in names]


def ultralytics_args(config: TrainConfig, *, data: str, project: Path, name: str,
                     class_ids: list[int] | None = None) -> dict[str, Any]:
    """The keyword arguments ``YOLO.train`` gets for ``config`` (what the run records).

    Precedence, lowest first: the run's fixed settings, the ``--augment`` preset, the explicit
    options (``--multi-scale``, ``--optimizer``, ``--lr0``, ``--freeze``, ``--classes``,
    ``--cache``), then ``config.overrides`` (``--train-arg``).

    Args:
        config: the training options.
        data: the dataset's ``data.yaml``; ``project``/``name``: where Ultralytics writes.
        class_ids: workspace class ids to train on (``--classes``); None: all.
    """
    kwargs: dict[str, Any] = {
        "data": data, "epochs": config.epochs, "imgsz": config.imgsz, "batch": config.batch,
        "device": config.device, "patience": config.patience, "project": str(project),
        "name": name, "exist_ok": True, "plots": False, "workers": config.workers,
        "seed": config.seed, "verbose": False, "optimizer": config.optimizer}
    kwargs.update(augment_args(config.augment))
    if config.multi_scale:
        kwargs["multi_scale"] = MULTI_SCALE
    if config.lr0 is not None:
        kwargs["lr0"] = config.lr0
    if config.freeze is not None:
        kwargs["freeze"] = config.freeze
    if class_ids is not None:
        kwargs["classes"] = class_ids
    if config.cache:
        kwargs["cache"] = "ram"
    kwargs.update(config.overrides)
    return kwargs


#: ``multi_scale`` given to Ultralytics by ``--multi-scale``: sizes vary by +/-50 % of imgsz.
MULTI_SCALE = 0.5


def _check_args(kwargs: dict[str, Any]) -> None:
    """Let Ultralytics check names, types and ranges before anything is recorded.

    Raises:
        ConfigError: an unknown argument (with Ultralytics' suggestion) or a bad value.
    """
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg
    from ultralytics.utils import LOGGER

    quiet, LOGGER.disabled = LOGGER.disabled, True  # it logs its whole CLI help on a bad key
    try:
        get_cfg(DEFAULT_CFG_DICT, kwargs)
    except (SyntaxError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid training argument: {str(exc).strip()} (see --train-arg and "
                          "Ultralytics' ultralytics/cfg/default.yaml)") from exc
    finally:
        LOGGER.disabled = quiet


def _resume(ws: Workspace, config: TrainConfig, on_epoch: EpochCallback | None) -> TrainResult:
    if not config.run:
        raise WorkbenchError("--resume needs --run NAME (see `workbench status` for runs)")
    doc = runs.get_run(ws, config.run, kind=RunKind.TRAIN)
    if doc is None:
        raise WorkbenchError(f"no training run named {config.run!r} in this workspace")
    if doc.get("status") == "completed":
        raise WorkbenchError(f"run {config.run!r} has finished; nothing to resume")
    if runs.still_running(doc):
        raise WorkbenchError(f"run {config.run!r} is still training in process {doc['pid']}; "
                             "wait for it, or stop it (Ctrl-C) and then resume")
    last = last_checkpoint(ws, config.run)
    if not last.is_file():
        raise WorkbenchError(f"run {config.run!r} saved no checkpoint yet ({last}); start it "
                             "again without --resume under a new --run name")
    from ultralytics import YOLO

    runs.update_run(ws, config.run, set_={"status": "running", "pid": os.getpid()})
    result = _fit(ws, config.run, YOLO(str(last)), {"resume": True}, on_epoch)
    inputs = doc.get("inputs", {})
    result.dataset, result.label_hash = inputs.get("dataset", ""), inputs.get("label_hash", "")
    result.train_images = len(inputs.get("train_ids", []))
    result.val_images = len(inputs.get("val_ids", []))
    runs.update_run(ws, config.run, set_={"outputs": result.to_dict()})
    return result


def _fit(ws: Workspace, run: str, model: Any, kwargs: dict[str, Any],
         on_epoch: EpochCallback | None) -> TrainResult:
    """Run Ultralytics' trainer with per-epoch recording; map failures to run states."""
    started = time.perf_counter()

    def record(trainer: Any) -> None:
        # on_model_save fires once per epoch inside the loop, after validation; unlike
        # on_fit_epoch_end it is not fired again by the final validation of best.pt.
        epoch = int(trainer.epoch) + 1
        metrics = {"epoch": epoch, "time": round(time.perf_counter() - started, 3)}
        metrics.update({k: float(v) for k, v in
                        trainer.label_loss_items(trainer.tloss, prefix="train").items()})
        metrics.update({k: float(v) for k, v in (trainer.metrics or {}).items()})
        runs.update_run(ws, run, push={"epochs": metrics})
        if on_epoch:
            on_epoch(epoch, int(trainer.epochs), metrics)

    model.add_callback("on_model_save", record)
    try:
        metrics = model.train(**kwargs)
    except KeyboardInterrupt:
        runs.finish_run(ws, run, "interrupted", {}, time.perf_counter() - started)
        raise
    except (MemoryError, RuntimeError) as exc:
        oom = isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()
        runs.finish_run(ws, run, "failed", {"error": str(exc)}, time.perf_counter() - started)
        if oom:
            raise WorkbenchError(
                f"out of memory while training run {run!r}; try a smaller --batch (e.g. half) "
                "or --imgsz, or fewer dataloader workers") from exc
        raise
    except SyntaxError as exc:  # Ultralytics' way of rejecting an unknown argument
        runs.finish_run(ws, run, "failed", {"error": str(exc)}, time.perf_counter() - started)
        raise ConfigError(f"invalid training argument: {exc}") from exc
    except Exception as exc:
        runs.finish_run(ws, run, "failed", {"error": str(exc)}, time.perf_counter() - started)
        raise
    seconds = time.perf_counter() - started
    run_dir = Path(model.trainer.save_dir)
    values = getattr(metrics, "results_dict", {}) or {}
    csv_epochs = _epochs_from_csv(run_dir / "results.csv")
    if csv_epochs:  # authoritative: an interrupt can fall between saving and our callback
        runs.update_run(ws, run, set_={"epochs": csv_epochs})
    doc = runs.get_run(ws, run) or {}
    from workbench.plots import training_curves

    plots = []
    csv = run_dir / "results.csv"
    if csv.is_file():
        plots.append(str(training_curves(csv, run_dir / "curves.png")))
    result = TrainResult(
        run=run, weights=str(run_dir / "weights" / "best.pt"),
        last=str(run_dir / "weights" / "last.pt"),
        map50=float(values.get("metrics/mAP50(B)", 0.0)),
        map50_95=float(values.get("metrics/mAP50-95(B)", 0.0)),
        epochs=len(doc.get("epochs", [])), seconds=round(seconds, 2), run_dir=str(run_dir),
        plots=plots)
    runs.finish_run(ws, run, "completed", result.to_dict(), seconds)
    return result


def _epochs_from_csv(path: Path) -> list[dict[str, float]]:
    """Per-epoch metrics from Ultralytics' ``results.csv`` (one row per finished epoch)."""
    import csv

    if not path.is_file():
        return []
    rows: dict[int, dict[str, float]] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            try:
                values = {k.strip(): float(v) for k, v in row.items() if k and v not in (None, "")}
            except ValueError:
                continue
            if "epoch" in values:
                values["epoch"] = int(values["epoch"])
                rows[int(values["epoch"])] = values
    return [rows[e] for e in sorted(rows)]
