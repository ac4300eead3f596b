"""Ultralytics YOLO datasets: a ``data.yaml`` with image folders; labels beside in ``labels/``.

Each label line is ``class_id x_center y_center width height`` (relative). An empty label
file marks a negative (background) image; split names come from the yaml's keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from workbench.core.boxes import cxcywhn_to_xyxyn
from workbench.errors import SourceError
from workbench.media.records import (
    ImageRecord,
    SourceBatch,
    SourceOptions,
    list_images,
    normalize_split,
)

_SPLIT_KEYS = ("train", "val", "test")


def find_data_yaml(path: Path) -> Path:
    """``path`` itself, or the single ``data.yaml`` (or other ``*.yaml``) in the folder."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder")
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if (path / name).is_file():
            return path / name
    candidates = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    if len(candidates) == 1:
        return candidates[0]
    raise SourceError(
        f"{path}: expected a YOLO data.yaml in this folder (found {len(candidates)} yaml files); "
        "pass the yaml file itself"
    )


def _class_names(spec: dict[str, Any], where: Path) -> list[str]:
    names = spec.get("names")
    if isinstance(names, dict):
        try:
            ordered = sorted((int(k), str(v)) for k, v in names.items())
        except (TypeError, ValueError) as exc:
            raise SourceError(f"{where}: 'names' keys must be integers: {exc}") from exc
        if [k for k, _ in ordered] != list(range(len(ordered))):
            raise SourceError(f"{where}: 'names' ids must be 0..{len(ordered) - 1} without gaps")
        return [v for _, v in ordered]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise SourceError(f"{where}: 'names' must list the class names (a list or an id: name map)")


def _label_dir(image_dir: Path) -> Path:
    """Ultralytics' rule: the last ``images`` path component becomes ``labels``."""
    parts = list(image_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return image_dir


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse a YOLO dataset; see the module docstring."""
    yaml_path = find_data_yaml(path)
    try:
        spec = yaml.safe_load(yaml_path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(f"{yaml_path}: cannot read YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise SourceError(f"{yaml_path}: expected a mapping with train/val/test and names")
    batch = SourceBatch()
    names = _class_names(spec, yaml_path)
    batch.class_names = [] if options.unlabeled else names
    base = yaml_path.parent
    if spec.get("path"):
        root = Path(str(spec["path"])).expanduser()
        base = root if root.is_absolute() else (yaml_path.parent / root)
    seen: dict[Path, int] = {}
    found_any = False
    for key in _SPLIT_KEYS:
        entries = spec.get(key)
        if not entries:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            target = (base / str(entry)).resolve()
            if target.is_file() and target.suffix == ".txt":
                images = _read_list(target, yaml_path, key)
                check_orphans = None
            elif target.is_dir():
                images = list_images(target)
                check_orphans = target
            else:
                raise SourceError(f"{yaml_path}: {key}: {entry} -> {target} is neither a folder "
                                  "nor a .txt list of images")
            found_any = True
            _parse_split(batch, images, check_orphans, normalize_split(key), names, seen,
                         options, base)
    if not found_any:
        raise SourceError(f"{yaml_path}: lists no train/val/test image folders")
    return batch


def _read_list(path: Path, yaml_path: Path, key: str) -> list[Path]:
    """Images of an Ultralytics ``.txt`` list (one path per line, relative to the list)."""
    images = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        image = (path.parent / entry).resolve()
        if not image.is_file():
            raise SourceError(f"{path}:{lineno}: image {entry!r} (listed for {key} in "
                              f"{yaml_path.name}) not found")
        images.append(image)
    return images


def _parse_split(batch: SourceBatch, images: list[Path], image_dir: Path | None,
                 split: str | None, names: list[str], seen: dict[Path, int],
                 options: SourceOptions, base: Path) -> None:
    """Parse one split's images; ``image_dir`` (a folder entry) also gets the orphan check."""
    base_prefix = str(base.resolve()) + os.sep
    stems: set[str] = set()
    rows = _Rows()
    for image_path in images:
        path_str = str(image_path)
        image_folder = image_path.parent
        label_dir = _label_dir(image_folder)
        rel_stem = image_path.stem
        if image_dir is not None:
            rel_stem = os.path.splitext(path_str[len(str(image_dir)) + 1:])[0]
            label_dir = _label_dir(image_dir)
        stems.add(rel_stem)
        if image_path in seen:
            batch.warn("listed-twice", image_path,
                       f"image folder is listed under two splits; kept in "
                       f"{batch.records[seen[image_path]].split}")
            continue
        index = len(batch.records)
        seen[image_path] = index
        source_id = path_str[len(base_prefix):] if path_str.startswith(base_prefix) else path_str
        if options.unlabeled:
            batch.records.append(ImageRecord(image_path, source_id, labeled=False, split="pool"))
            continue
        batch.records.append(ImageRecord(image_path, source_id, labeled=True, split=split))
        label_path = os.path.join(label_dir, rel_stem + ".txt")
        try:
            with open(label_path) as fh:
                text = fh.read()
        except FileNotFoundError:
            batch.warn("no-label-file", label_path,
                       "no label file for this image; treated as a negative (background) image")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            batch.error("unreadable-label", label_path, f"cannot read label file: {exc}",
                        image=index)
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) == 5 and fields[0].isdigit():
                rows.add(fields, index, label_path, lineno)
            else:
                _parse_line(batch, fields, label_path, lineno, index, names)
    rows.flush(batch, names)
    if image_dir is None or options.unlabeled:
        return
    label_dir = _label_dir(image_dir)
    if label_dir != image_dir and label_dir.is_dir():
        label_prefix = str(label_dir) + os.sep
        label_files = sorted(os.path.join(d, f) for d, _, files in os.walk(label_dir)
                             for f in files if f.endswith(".txt"))
        for label_path in label_files:
            if os.path.splitext(label_path[len(label_prefix):])[0] not in stems:
                batch.drop("label-without-image", label_path,
                            f"label file has no image in {image_dir}; add the image or delete "
                            "the label file")


class _Rows:
    """Well-shaped label lines of a whole split, converted with one numpy call."""

    def __init__(self) -> None:
        self.fields: list[list[str]] = []
        self.image: list[int] = []
        self.file: list[str] = []
        self.line: list[int] = []

    def add(self, fields: list[str], image: int, file: str, line: int) -> None:
        self.fields.append(fields)
        self.image.append(image)
        self.file.append(file)
        self.line.append(line)

    def flush(self, batch: SourceBatch, names: list[str]) -> None:
        """Convert all rows; rows with bad numbers or ids go through the per-line checks."""
        if not self.fields:
            return
        try:
            arr = np.array(self.fields, dtype=np.float64)
            good = np.isfinite(arr).all(axis=1) & (arr[:, 0] < len(names))
        except ValueError:
            arr = np.zeros((len(self.fields), 5))
            good = np.zeros(len(self.fields), dtype=bool)
        for k in np.flatnonzero(~good).tolist():
            _parse_line(batch, self.fields[k], self.file[k], self.line[k], self.image[k], names)
        idx = np.flatnonzero(good)
        labels = [names[i] for i in arr[idx, 0].astype(np.int64).tolist()]
        batch.boxes.extend_rows([self.image[k] for k in idx.tolist()], labels,
                                cxcywhn_to_xyxyn(arr[idx, 1:]).tolist(),
                                [self.file[k] for k in idx.tolist()],
                                [self.line[k] for k in idx.tolist()],
                                wh=arr[idx, 3:5].tolist())


def _parse_line(batch: SourceBatch, fields: list[str], label_path: str, lineno: int, index: int,
                names: list[str]) -> None:
    line = " ".join(fields)
    if len(fields) != 5:
        batch.error("bad-field-count", label_path,
                    f"expected 5 fields 'class x_center y_center width height', got "
                    f"{len(fields)}: {line[:80]!r}", lineno, index)
        return
    try:
        class_id = int(fields[0])
        coords = [float(v) for v in fields[1:]]
    except ValueError:
        batch.error("bad-number", label_path,
                    f"class id must be an integer and coordinates numbers: {line!r}",
                    lineno, index)
        return
    if not 0 <= class_id < len(names):
        batch.error("class-id-out-of-range", label_path,
                    f"class id {class_id} is outside the class list (0..{len(names) - 1} in "
                    "data.yaml); fix the id or add the class to 'names'", lineno, index)
        return
    x1, y1, x2, y2 = cxcywhn_to_xyxyn(coords)[0]
    batch.boxes.add(index, names[class_id], (x1, y1, x2, y2), label_path, lineno,
                    wh=(coords[2], coords[3]))
