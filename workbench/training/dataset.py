"""Export a view's labeled images as a YOLO dataset for Ultralytics: links, not copies.

The folder is keyed by a hash of the class list and of every exported sample's id, content
hash and boxes, so an unchanged view reuses the folder and any label change makes a new one.
Repeat-factor sampling (``critical`` classes, ``oversample``): each training image holding a box
of a critical class is linked ``oversample`` times in total (``<sid>.jpg``, ``<sid>__rep1.jpg``,
...), each with its own label file; the critical classes and the factor are part of the key.
Linked images keep their EXIF orientation tag: Ultralytics' loader applies it, and the stored
normalized boxes are in that displayed frame (see ``workbench.media.orientation``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.core.boxes import xywhn_to_xyxyn
from workbench.core.labels import class_ids
from workbench.core.segments import segments
from workbench.errors import ConfigError, WorkbenchError
from workbench.store.view_data import labeled_boxes

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


@dataclass
class SplitExport:
    """One exported split.

    Attributes:
        ids: sample ids (strings), sorted.
        boxes_per_class: class name -> boxes.
        images: number of images; ``boxes``: number of boxes.
        repeated: images repeated for the critical classes (0 without repeats).
        images_after_repeats: image files in the split, repeats included.
        boxes_per_class_after_repeats: class name -> boxes, repeats included.
    """

    ids: list[str]
    boxes_per_class: dict[str, int]
    images: int
    boxes: int
    repeated: int = 0
    images_after_repeats: int = 0
    boxes_per_class_after_repeats: dict[str, int] = field(default_factory=dict)


@dataclass
class YoloDataset:
    """An exported YOLO dataset.

    Attributes:
        root: the folder; ``yaml``: its ``data.yaml``.
        label_hash: hash of classes + samples + boxes of both splits (the folder key).
        train: the training split; ``val``: the validation split.
        reused: the folder existed already for exactly these labels.
    """

    root: Path
    yaml: Path
    label_hash: str
    train: SplitExport
    val: SplitExport
    reused: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def _read(ws: Workspace, spec: str) -> dict[str, Any]:
    return labeled_boxes(ws, spec)


def _split_hash(data: dict[str, Any], classes: list[str]) -> str:
    h = hashlib.sha256()
    h.update("\n".join(f"{i}:{c}" for i, c in zip(data["ids"], data["content_hash"],
                                                   strict=True)).encode())
    h.update(np.asarray(data["sample_index"], dtype=np.int64).tobytes())
    h.update(class_ids(data["label"], classes).tobytes())
    h.update(np.round(data["xywhn"], 7).astype(np.float64).tobytes())
    return h.hexdigest()


def _key(parts: dict[str, dict[str, Any]], classes: list[str],
         critical: list[str] | None = None, oversample: int = 1) -> str:
    for name, data in parts.items():
        unknown = sorted(set(data["label"].tolist()) - set(classes))
        if unknown:
            raise WorkbenchError(
                f"{name} view has boxes of classes outside the workspace's class list: "
                f"{unknown}; add them with `workbench ingest --add-classes` or fix the labels")
    text = "\n".join(classes) + "|" + "|".join(
        _split_hash(parts[n], classes) for n in ("train", "val"))
    if critical and oversample > 1:  # without repeats the key is what it always was
        text += f"|repeat:{oversample}:" + ",".join(sorted(critical))
    return hashlib.sha256(text.encode()).hexdigest()


def check_critical(critical: list[str] | None, classes: list[str]) -> None:
    """Refuse critical class names that are not in the workspace's class list.

    Raises:
        ConfigError: naming the unknown classes and the known ones.
    """
    unknown = [c for c in critical or [] if c not in classes]
    if unknown:
        raise ConfigError(f"--critical: unknown classes {unknown}; the workspace's classes are "
                          f"{', '.join(classes)}")


def repeat_factors(data: dict[str, Any], critical: list[str] | None,
                   oversample: int) -> np.ndarray:
    """How many times each image of a split is exported (repeat-factor sampling).

    Args:
        data: the split's arrays (:func:`workbench.store.view_data.labeled_boxes`): ``ids``
            ``(N,)``, ``label`` ``(M,)`` class names, ``sample_index`` ``(M,)`` into ``ids``.
        critical: the critical class names (None: no repeats).
        oversample: total appearances of an image holding a box of a critical class.

    Returns:
        ``(N,)`` int64: ``oversample`` for images with a critical box, else 1.
    """
    factors = np.ones(len(data["ids"]), dtype=np.int64)
    if critical and oversample > 1 and len(data["label"]):
        hit = np.isin(np.asarray(data["label"]).astype(str), np.asarray(critical, dtype=str))
        factors[np.asarray(data["sample_index"], dtype=np.int64)[hit]] = oversample
    return factors


def label_hash(ws: Workspace, train_view: str, val_view: str, classes: list[str],
               critical: list[str] | None = None, oversample: int = 1) -> str:
    """The hash that keys the YOLO export of two views (what a training run records)."""
    return _key({"train": _read(ws, train_view), "val": _read(ws, val_view)}, classes,
                critical, oversample)


def export_yolo(ws: Workspace, train_view: str, val_view: str, classes: list[str],
                critical: list[str] | None = None, oversample: int = 1) -> YoloDataset:
    """Write (or reuse) the YOLO dataset of two views' labeled images.

    Args:
        ws: the workspace.
        train_view: view spec of the training images (only ``status=labeled`` ones are used).
        val_view: view spec of the validation images.
        classes: the class list (model class order).
        critical: classes whose training images are repeated (validation is never repeated).
        oversample: total appearances of each such image in the training split (1: none).

    Raises:
        ConfigError: a critical class is not in ``classes``; ``oversample`` < 1.
        WorkbenchError: a box carries a class outside ``classes``.
    """
    check_critical(critical, classes)
    if oversample < 1:
        raise ConfigError(f"oversample must be >= 1, got {oversample}")
    parts = {"train": _read(ws, train_view), "val": _read(ws, val_view)}
    key = _key(parts, classes, critical, oversample)
    root = ws.root / ".workbench" / "datasets" / key[:16]
    factors = {"train": repeat_factors(parts["train"], critical, oversample),
               "val": np.ones(len(parts["val"]["ids"]), dtype=np.int64)}
    exports = {n: _summary(parts[n], factors[n]) for n in parts}
    yaml_path = root / "data.yaml"
    if (root / ".complete").is_file():
        return YoloDataset(root, yaml_path, key, exports["train"], exports["val"], reused=True)
    if root.exists():
        shutil.rmtree(root)
    for name, data in parts.items():
        _write_split(root, name, data, classes, factors[name])
    names = "\n".join(f"  {i}: {json.dumps(c)}" for i, c in enumerate(classes))
    yaml_path.write_text(f"path: {root}\ntrain: images/train\nval: images/val\n"
                         f"nc: {len(classes)}\nnames:\n{names}\n")
    (root / ".complete").write_text(json.dumps({"label_hash": key}))
    return YoloDataset(root, yaml_path, key, exports["train"], exports["val"])


def _summary(data: dict[str, Any], factors: np.ndarray) -> SplitExport:
    labels, inverse, counts = np.unique(np.asarray(data["label"]).astype(str),
                                        return_inverse=True, return_counts=True)
    weights = factors[np.asarray(data["sample_index"], dtype=np.int64)]
    repeated = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(labels))
    return SplitExport(
        ids=[str(i) for i in data["ids"]],
        boxes_per_class={str(k): int(v) for k, v in zip(labels, counts, strict=True)},
        images=len(data["ids"]), boxes=len(data["label"]),
        repeated=int(np.count_nonzero(factors > 1)), images_after_repeats=int(factors.sum()),
        boxes_per_class_after_repeats={str(k): int(v)
                                       for k, v in zip(labels, repeated, strict=True)})


def _write_split(root: Path, name: str, data: dict[str, Any], classes: list[str],
                 factors: np.ndarray) -> None:
    """Link the split's images and write their label files; image ``n`` is written
    ``factors[n]`` times (``<sid>``, then ``<sid>__rep1`` ...)."""
    images = root / "images" / name
    labels = root / "labels" / name
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    xyxy = xywhn_to_xyxyn(data["xywhn"])
    centers = np.c_[(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                    data["xywhn"][:, 2], data["xywhn"][:, 3]].tolist()
    cls = class_ids(data["label"], classes).tolist()
    index = np.asarray(data["sample_index"], dtype=np.int64)
    starts, ends = segments(index, np.arange(len(data["ids"])))
    for n, (sid, path) in enumerate(zip(data["ids"], data["filepath"], strict=True)):
        ext = os.path.splitext(path)[1].lower() or ".jpg"
        os.symlink(path, images / f"{sid}{ext}")
        rows = [f"{cls[k]} {c[0]:.8f} {c[1]:.8f} {c[2]:.8f} {c[3]:.8f}"
                for k, c in ((k, centers[k]) for k in range(starts[n], ends[n]))]
        text = "\n".join(rows) + ("\n" if rows else "")
        (labels / f"{sid}.txt").write_text(text)
        for rep in range(1, int(factors[n])):
            os.symlink(path, images / f"{sid}__rep{rep}{ext}")
            (labels / f"{sid}__rep{rep}.txt").write_text(text)
