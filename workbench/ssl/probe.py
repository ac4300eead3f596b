"""``workbench ssl probe``: does the pretrained backbone carry class information?

Every labeled ground-truth box of the train and val views is cropped (with some context),
resized to a square and embedded by the backbone (pooled, L2-normalised). A k-NN classifier
(:mod:`workbench.ssl.knn`) labels the val crops from the train crops. The same probe runs on
the same architecture freshly initialised, and beside the majority-class answer, so the
accuracy has its baselines. Both backbones get their BatchNorm statistics from the train
crops (:func:`workbench.ssl.backbone.recalibrate_batchnorm`), so neither is judged on stale
running averages. Read-only: nothing is written.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.media.crops import crop_boxes
from workbench.ssl.backbone import recalibrate_batchnorm
from workbench.ssl.config import ProbeConfig, ProbeResult
from workbench.ssl.embed import pretrained_checkpoint
from workbench.ssl.features import load_backbone, pooled_features, torch_device
from workbench.ssl.knn import accuracy, knn_predict
from workbench.store import view_data
from workbench.store.workspace import Workspace


def box_crops(ws: Workspace, view: str, config: ProbeConfig,
              rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``(M, 3, S, S)`` float32 RGB crops in ``[0, 1]`` of the labeled boxes of ``view`` and
    their labels (boxes below ``min_box`` pixels skipped; at most ``max_boxes``, seeded).

    Each image is decoded once for all its boxes (:func:`~workbench.media.crops.crop_boxes`).
    """
    boxes = view_data.labeled_boxes(ws, view)
    n = len(boxes["label"])
    order: np.ndarray = np.arange(n)
    if config.max_boxes and n > config.max_boxes:
        order = np.sort(rng.choice(n, config.max_boxes, replace=False))
    crops, kept = crop_boxes(boxes["filepath"], boxes["sample_index"][order],
                             boxes["xywhn"][order], config.crop_size, config.context,
                             config.min_box)
    return crops, [str(x) for x in boxes["label"][order][kept]]


def _batches(x: np.ndarray, batch: int) -> Any:
    for start in range(0, len(x), batch):
        yield x[start:start + batch]


def _probe(backbone: Any, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
           config: ProbeConfig, n_classes: int) -> np.ndarray:
    """Predicted val classes of the k-NN probe on ``backbone``'s features."""
    device = torch_device(config.device)
    recalibrate_batchnorm(backbone, _batches(train_x, config.batch), device)
    backbone.eval()
    train_f = pooled_features(backbone, _batches(train_x, config.batch), config.device)
    val_f = pooled_features(backbone, _batches(val_x, config.batch), config.device)
    return knn_predict(train_f, train_y, val_f, config.k, n_classes)


def run_probe(ws: Workspace, config: ProbeConfig) -> ProbeResult:
    """k-NN accuracy of run ``config.run``'s backbone and of a fresh one (see the module).

    Raises:
        WorkbenchError: unknown run, no labeled box in the train or val view.
    """
    started = time.perf_counter()
    checkpoint = str(pretrained_checkpoint(ws, config.run))
    rng = np.random.default_rng(config.seed)
    train_x, train_labels = box_crops(ws, config.train, config, rng)
    val_x, val_labels = box_crops(ws, config.val, config, rng)
    for name, labels in (("train", train_labels), ("val", val_labels)):
        if not labels:
            raise WorkbenchError(f"the {name} view {getattr(config, name)!r} has no labeled "
                                 "boxes to probe with; label some, or choose another "
                                 f"--{name} view")
    classes = sorted(set(train_labels) | set(val_labels))
    cid = {c: i for i, c in enumerate(classes)}
    train_y = np.array([cid[c] for c in train_labels], dtype=np.int64)
    val_y = np.array([cid[c] for c in val_labels], dtype=np.int64)
    pred = _probe(load_backbone(checkpoint, config.device), train_x, train_y, val_x, config,
                  len(classes))
    fresh = load_backbone(checkpoint, config.device, fresh=True, seed=config.seed)
    pred_random = _probe(fresh, train_x, train_y, val_x, config, len(classes))
    majority = int(np.bincount(train_y, minlength=len(classes)).argmax())
    per_class = {}
    for c, i in cid.items():
        mask = val_y == i
        if mask.any():
            per_class[c] = {"support": int(mask.sum()),
                            "accuracy": accuracy(pred[mask], val_y[mask]),
                            "random_accuracy": accuracy(pred_random[mask], val_y[mask])}
    return ProbeResult(
        run=config.run, k=config.k, train_boxes=len(train_y), val_boxes=len(val_y),
        accuracy=accuracy(pred, val_y), random_accuracy=accuracy(pred_random, val_y),
        majority_accuracy=accuracy(np.full_like(val_y, majority), val_y),
        per_class=per_class, seconds=round(time.perf_counter() - started, 2))
