"""Ultralytics YOLO datasets: a ``data.yaml`` with image folders; labels beside in ``labels/``.

Each label line is ``class_id x_center y_center width height`` (relative). An empty label
file marks a negative (background) image; split names come from the yaml's keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.core.boxes import cxcywhn_to_xyxyn
from workbench.errors import SourceError
from workbench.sources.base import (
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
        except ValueError as exc:
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
    except (OSError, yaml.YAMLError) as exc:
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
            image_dir = (base / str(entry)).resolve()
            if not image_dir.is_dir():
                raise SourceError(f"{yaml_path}: {key}: {entry} -> {image_dir} is not a folder")
            found_any = True
            _parse_split(batch, image_dir, normalize_split(key), names, seen, options, base)
    if not found_any:
        raise SourceError(f"{yaml_path}: lists no train/val/test image folders")
    return batch


def _parse_split(batch: SourceBatch, image_dir: Path, split: str | None, names: list[str],
                 seen: dict[Path, int], options: SourceOptions, base: Path) -> None:
    label_dir = _label_dir(image_dir)
    images = list_images(image_dir)
    stems: set[Path] = set()
    for image_path in images:
        rel = image_path.relative_to(image_dir)
        stems.add(rel.with_suffix(""))
        if image_path in seen:
            batch.warn("listed-twice", image_path,
                       f"image folder is listed under two splits; kept in "
                       f"{batch.records[seen[image_path]].split}")
            continue
        index = len(batch.records)
        seen[image_path] = index
        source_id = _relative(image_path, base)
        if options.unlabeled:
            batch.records.append(ImageRecord(image_path, source_id, labeled=False, split="pool"))
            continue
        batch.records.append(ImageRecord(image_path, source_id, labeled=True, split=split))
        label_path = label_dir / rel.with_suffix(".txt")
        if not label_path.is_file():
            batch.warn("no-label-file", label_path,
                       "no label file for this image; treated as a negative (background) image")
            continue
        _parse_label_file(batch, label_path, index, names)
    if not options.unlabeled and label_dir != image_dir and label_dir.is_dir():
        for label_path in sorted(label_dir.rglob("*.txt")):
            if label_path.relative_to(label_dir).with_suffix("") not in stems:
                batch.error("label-without-image", label_path,
                            f"label file has no image in {image_dir}; add the image or delete "
                            "the label file")


def _parse_label_file(batch: SourceBatch, label_path: Path, index: int, names: list[str]) -> None:
    try:
        text = label_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        batch.error("unreadable-label", label_path, f"cannot read label file: {exc}", image=index)
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            batch.error("bad-field-count", label_path,
                        f"expected 5 fields 'class x_center y_center width height', got "
                        f"{len(fields)}: {line.strip()[:80]!r}", lineno, index)
            continue
        try:
            class_id = int(fields[0])
            coords = [float(v) for v in fields[1:]]
        except ValueError:
            batch.error("bad-number", label_path,
                        f"class id must be an integer and coordinates numbers: {line.strip()!r}",
                        lineno, index)
            continue
        if not 0 <= class_id < len(names):
            batch.error("class-id-out-of-range", label_path,
                        f"class id {class_id} is outside the class list (0..{len(names) - 1} in "
                        "data.yaml); fix the id or add the class to 'names'", lineno, index)
            continue
        x1, y1, x2, y2 = cxcywhn_to_xyxyn(coords)[0]
        batch.boxes.add(index, names[class_id], (x1, y1, x2, y2), str(label_path), lineno)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)
