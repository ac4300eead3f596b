"""``workbench ssl pretrain``: self-supervised training of the detector's backbone on a view.

A plain torch loop (no Lightning trainer): lightly's transform makes the views of each image,
the method's module (:mod:`workbench.ssl.methods`) gives the loss, AdamW steps. After each
epoch the loop saves its state (``ssl_last.pt``: module, optimiser, epoch, losses) and the
detector checkpoint (``detector.pt``, see :func:`workbench.ssl.backbone.save_detector`), and
pushes the epoch's loss and images/s onto the run record, so ``--resume`` continues from the
last finished epoch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.ssl.backbone import (
    backbone_of,
    build_detector,
    feature_dim,
    recalibrate_batchnorm,
    save_detector,
)
from workbench.ssl.config import PretrainConfig, PretrainResult
from workbench.ssl.features import torch_device
from workbench.ssl.methods import METHODS
from workbench.store import predictions, runs, ssl_samples
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

#: ``on_epoch(epoch, total, metrics)``: after each finished epoch (``loss``, ``images_per_s``).
EpochCallback = Callable[[int, int, dict[str, float]], None]


def run_dir(ws: Workspace, run: str) -> Path:
    """Where pretraining run ``run`` keeps its checkpoints."""
    return ws.root / "runs" / "ssl" / run


def detector_checkpoint(ws: Workspace, run: str) -> Path:
    """The detector checkpoint of pretraining run ``run`` (what ``train --model`` takes)."""
    return run_dir(ws, run) / "detector.pt"


def view_images(ws: Workspace, view: str) -> tuple[list[Any], list[str]]:
    """Sample ids and file paths of a view spec, or of several joined by ``|`` (united),
    sorted by id (one query per part, no per-sample objects)."""
    found: dict[Any, str] = {}
    for part in (p.strip() for p in view.split("|") if p.strip()):
        ids, paths = predictions.view_files(ws, part)
        found.update(zip(ids, paths, strict=True))
    ids = sorted(found)
    return ids, [found[i] for i in ids]


class ImageViews:
    """A map-style dataset: image ``i`` -> the method's list of views (RGB, ``[0, 1]``)."""

    def __init__(self, paths: list[str], transform: Any, imgsz: int) -> None:
        self.paths, self.transform, self.imgsz = paths, transform, imgsz

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> list[Any]:
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            img.draft("RGB", (self.imgsz * 2, self.imgsz * 2))  # JPEG: decode at reduced size
            rgb = img.convert("RGB")
        views: list[Any] = self.transform(rgb)
        return views


def pretrain(ws: Workspace, config: PretrainConfig,
             on_epoch: EpochCallback | None = None) -> PretrainResult:
    """Pretrain ``config.model``'s backbone on ``config.view`` (or resume ``config.run``).

    Raises:
        WorkbenchError: empty view, a run that exists or cannot be resumed, bad model spec.
    """
    import torch

    started = time.perf_counter()
    if config.resume:
        run, doc = _resumable(ws, config)
        params, ids = doc["params"], list(doc["inputs"]["sample_ids"])
        known = {f.name for f in fields(PretrainConfig)}
        config = PretrainConfig(**{**{k: v for k, v in params.items() if k in known},
                                   "epochs": config.epochs, "resume": True,
                                   "device": config.device, "workers": config.workers})
        ids, paths = ssl_samples.files_of(ws, ids)
    else:
        run = config.run or runs.new_run_id("ssl")
        if runs.get_run(ws, run) is not None:
            raise WorkbenchError(f"a run named {run!r} exists; pass --resume to continue it "
                                 "or choose another --run")
        ids, paths = view_images(ws, config.view)
        if config.max_images and len(ids) > config.max_images:
            keep = np.sort(np.random.default_rng(config.seed).choice(
                len(ids), config.max_images, replace=False))
            ids, paths = [ids[i] for i in keep], [paths[i] for i in keep]
    if len(ids) < 2:
        raise WorkbenchError(f"the view {config.view!r} has {len(ids)} images; pretraining "
                             "needs at least 2 (ingest images, or choose another --view)")
    folder = run_dir(ws, run)
    state_path = folder / "ssl_last.pt"
    torch.manual_seed(config.seed)
    if config.resume:
        detector = build_detector(str(detector_checkpoint(ws, run)))
    else:
        detector = build_detector(config.model, nc=len(ws.classes) or None)
    backbone = backbone_of(detector)
    dim = feature_dim(backbone)
    method = METHODS.get(config.method)
    module = method.build(backbone, dim)
    device = torch_device(config.device)
    module.to(device)
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    first = 0
    if config.resume:
        state = torch.load(state_path, map_location=device, weights_only=False)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        first, losses = int(state["epoch"]), list(state["losses"])
        runs.update_run(ws, run, set_={"status": "running", "pid": os.getpid(),
                                       "params.epochs": config.epochs})
    else:
        params = {**asdict(config), "run": run, "backbone_layers": len(backbone),
                  "feature_dim": dim}
        runs.start_run(ws, RunKind.SSL_PRETRAIN, run, params,
                       {"sample_ids": [str(i) for i in ids], "images": len(ids)},
                       on_rollback="interrupted")
    from torch.utils.data import DataLoader

    dataset: Any = ImageViews(paths, method.transform(config.imgsz), config.imgsz)
    loader: DataLoader[Any] = DataLoader(
        dataset, batch_size=min(config.batch, len(paths)), shuffle=True, drop_last=True,
        num_workers=config.workers, generator=torch.Generator().manual_seed(config.seed + first))
    total_steps = max(1, len(loader) * config.epochs)
    steps, images, train_seconds = 0, 0, 0.0
    meta = {"run": run, "method": config.method, "model": config.model, "imgsz": config.imgsz,
            "backbone_layers": len(backbone)}
    try:
        for epoch in range(first, config.epochs):
            module.train()
            tic, epoch_losses, seen = time.perf_counter(), [], 0
            for i, views in enumerate(loader):
                progress = (epoch * len(loader) + i) / total_steps
                loss = module.loss([v.to(device, non_blocking=True) for v in views],
                                   progress, epoch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                epoch_losses.append(float(loss.detach()))
                seen += int(views[0].shape[0])
            seconds = time.perf_counter() - tic
            steps, images, train_seconds = steps + len(epoch_losses), images + seen, \
                train_seconds + seconds
            losses.append(float(np.mean(epoch_losses)) if epoch_losses else float("nan"))
            recalibrate_batchnorm(backbone, _plain_batches(paths, config), device)
            torch.save({"module": module.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch + 1, "losses": losses}, _tmp(state_path, folder))
            _tmp(state_path, folder).replace(state_path)
            save_detector(detector, detector_checkpoint(ws, run), {**meta, "epochs": epoch + 1})
            metrics = {"epoch": epoch + 1, "loss": losses[-1], "seconds": round(seconds, 3),
                       "images_per_s": round(seen / max(seconds, 1e-9), 2)}
            runs.update_run(ws, run, push={"epochs": metrics})
            if on_epoch:
                on_epoch(epoch + 1, config.epochs, metrics)
    except KeyboardInterrupt:
        runs.finish_run(ws, run, "interrupted", {}, time.perf_counter() - started)
        raise
    except Exception as exc:
        runs.finish_run(ws, run, "failed", {"error": str(exc)}, time.perf_counter() - started)
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            raise WorkbenchError(f"out of memory while pretraining run {run!r}; try a smaller "
                                 "--batch or --imgsz, then --resume it") from exc
        raise
    result = PretrainResult(
        run=run, method=config.method, checkpoint=str(detector_checkpoint(ws, run)),
        epochs=len(losses), images=len(ids), steps=steps,
        seconds=round(time.perf_counter() - started, 2),
        images_per_s=round(images / train_seconds, 2) if train_seconds else 0.0,
        final_loss=losses[-1] if losses else float("nan"), losses=losses,
        backbone_layers=len(backbone), feature_dim=dim, imgsz=config.imgsz,
        run_dir=str(folder), resumed=config.resume)
    runs.finish_run(ws, run, "completed", result.to_dict(), result.seconds)
    return result


#: Images the BatchNorm statistics are re-estimated from after each epoch.
CALIBRATION_IMAGES = 128


def _plain_batches(paths: list[str], config: PretrainConfig) -> Any:
    """Letterboxed ``(B, 3, S, S)`` batches of up to :data:`CALIBRATION_IMAGES` of the images
    (a seeded subset), as the detector sees them."""
    from workbench.prediction.api import load_batch

    rng = np.random.default_rng(config.seed)
    chosen = [paths[i] for i in sorted(rng.permutation(len(paths))[:CALIBRATION_IMAGES])]
    for start in range(0, len(chosen), config.batch):
        yield load_batch(chosen[start:start + config.batch], config.imgsz)[0]


def _tmp(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return path.with_suffix(".tmp")


def _resumable(ws: Workspace, config: PretrainConfig) -> tuple[str, dict[str, Any]]:
    run = str(config.run)
    doc = runs.get_run(ws, run, kind=RunKind.SSL_PRETRAIN)
    if doc is None:
        raise WorkbenchError(f"no pretraining run named {run!r} in this workspace")
    if runs.still_running(doc):
        raise WorkbenchError(f"run {run!r} is still training in process {doc['pid']}; wait for "
                             "it, or stop it (Ctrl-C) and then resume")
    done = len(doc.get("epochs") or [])
    if done >= config.epochs:
        raise WorkbenchError(f"run {run!r} has done {done} epochs; pass --epochs N with N > "
                             f"{done} to continue it")
    if not (run_dir(ws, run) / "ssl_last.pt").is_file() \
            or not detector_checkpoint(ws, run).is_file():
        raise WorkbenchError(f"run {run!r} saved no checkpoint yet ({run_dir(ws, run)}); start "
                             "it again without --resume under a new --run name")
    return run, doc
