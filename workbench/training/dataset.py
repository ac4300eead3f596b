"""Export a view's labeled images as a YOLO dataset for Ultralytics: links, not copies.

The folder is keyed by a hash of the class list and of every exported sample's id, content
hash and boxes, so an unchanged view reuses the folder and any label change makes a new one.
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
from workbench.core.segments import segments
from workbench.errors import WorkbenchError
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
    """

    ids: list[str]
    boxes_per_class: dict[str, int]
    images: int
    boxes: int


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


def _split_hash(data: dict[str, Any], class_index: dict[str, int]) -> str:
    h = hashlib.sha256()
    h.update("\n".join(f"{i}:{c}" for i, c in zip(data["ids"], data["content_hash"],
                                                   strict=True)).encode())
    h.update(np.asarray(data["sample_index"], dtype=np.int64).tobytes())
    h.update(np.asarray([class_index.get(str(x), -1) for x in data["label"]], np.int64).tobytes())
    h.update(np.round(data["xywhn"], 7).astype(np.float64).tobytes())
    return h.hexdigest()


def _key(parts: dict[str, dict[str, Any]], classes: list[str]) -> str:
    class_index = {c: i for i, c in enumerate(classes)}
    for name, data in parts.items():
        unknown = sorted(set(data["label"].tolist()) - set(classes))
        if unknown:
            raise WorkbenchError(
                f"{name} view has boxes of classes outside the workspace's class list: "
                f"{unknown}; add them with `workbench ingest --add-classes` or fix the labels")
    return hashlib.sha256(("\n".join(classes) + "|" + "|".join(
        _split_hash(parts[n], class_index) for n in ("train", "val"))).encode()).hexdigest()


def label_hash(ws: Workspace, train_view: str, val_view: str, classes: list[str]) -> str:
    """The hash that keys the YOLO export of two views (what a training run records)."""
    return _key({"train": _read(ws, train_view), "val": _read(ws, val_view)}, classes)


def export_yolo(ws: Workspace, train_view: str, val_view: str, classes: list[str]) -> YoloDataset:
    """Write (or reuse) the YOLO dataset of two views' labeled images.

    Args:
        ws: the workspace.
        train_view: view spec of the training images (only ``status=labeled`` ones are used).
        val_view: view spec of the validation images.
        classes: the class list (model class order).

    Raises:
        WorkbenchError: a box carries a class outside ``classes``.
    """
    class_index = {c: i for i, c in enumerate(classes)}
    parts = {"train": _read(ws, train_view), "val": _read(ws, val_view)}
    key = _key(parts, classes)
    root = ws.root / ".workbench" / "datasets" / key[:16]
    exports = {n: _summary(parts[n]) for n in parts}
    yaml_path = root / "data.yaml"
    if (root / ".complete").is_file():
        return YoloDataset(root, yaml_path, key, exports["train"], exports["val"], reused=True)
    if root.exists():
        shutil.rmtree(root)
    for name, data in parts.items():
        _write_split(root, name, data, class_index)
    names = "\n".join(f"  {i}: {json.dumps(c)}" for i, c in enumerate(classes))
    yaml_path.write_text(f"path: {root}\ntrain: images/train\nval: images/val\n"
                         f"nc: {len(classes)}\nnames:\n{names}\n")
    (root / ".complete").write_text(json.dumps({"label_hash": key}))
    return YoloDataset(root, yaml_path, key, exports["train"], exports["val"])


def _summary(data: dict[str, Any]) -> SplitExport:
    labels, counts = np.unique(data["label"], return_counts=True)
    return SplitExport(
        ids=[str(i) for i in data["ids"]],
        boxes_per_class={str(k): int(v) for k, v in zip(labels, counts, strict=True)},
        images=len(data["ids"]), boxes=len(data["label"]))


def _write_split(root: Path, name: str, data: dict[str, Any], class_index: dict[str, int]) -> None:
    images = root / "images" / name
    labels = root / "labels" / name
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    xyxy = xywhn_to_xyxyn(data["xywhn"])
    centers = np.c_[(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                    data["xywhn"][:, 2], data["xywhn"][:, 3]].tolist()
    cls = [class_index[str(x)] for x in data["label"]]
    index = np.asarray(data["sample_index"], dtype=np.int64)
    starts, ends = segments(index, np.arange(len(data["ids"])))
    for n, (sid, path) in enumerate(zip(data["ids"], data["filepath"], strict=True)):
        ext = os.path.splitext(path)[1].lower() or ".jpg"
        os.symlink(path, images / f"{sid}{ext}")
        rows = [f"{cls[k]} {c[0]:.8f} {c[1]:.8f} {c[2]:.8f} {c[3]:.8f}"
                for k, c in ((k, centers[k]) for k in range(starts[n], ends[n]))]
        (labels / f"{sid}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
