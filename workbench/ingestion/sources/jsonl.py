"""JSON Lines: one object per image.

Each line: ``{"image_path": str, "bounding_box_annotations": [{"annotation_label": str,
"x_min_normalized": float, "y_min_normalized": float, "x_max_normalized": float,
"y_max_normalized": float}, ...]}``; optional ``split`` and ``group``. ``image_path`` is
absolute or relative to the JSONL file.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import SourceError
from workbench.media.records import (
    ImageRecord,
    SourceBatch,
    SourceOptions,
    normalize_split,
    shown,
)

_COORDS = ("x_min_normalized", "y_min_normalized", "x_max_normalized", "y_max_normalized")


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse a JSONL manifest; see the module docstring."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    base = options.images_dir or path.parent
    batch = SourceBatch()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                batch.drop("bad-json", path, f"not valid JSON: {exc}", lineno)
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("image_path"), str):
                got = obj.get("image_path") if isinstance(obj, dict) else obj
                batch.drop("no-image-path", path,
                            f"each line needs a string 'image_path', got {shown(got)}", lineno)
                continue
            if "\x00" in obj["image_path"]:
                batch.drop("no-image-path", path, f"'image_path' {shown(obj['image_path'])} "
                           "contains a NUL character", lineno)
                continue
            image_path = Path(obj["image_path"]).expanduser()
            image_path = (image_path if image_path.is_absolute() else base / image_path).resolve()
            if not image_path.is_file():
                batch.drop("missing-image", path, f"image {obj['image_path']!r} not found",
                            lineno)
                continue
            split = obj.get("split")
            if split is not None and not isinstance(split, str):
                batch.drop("bad-split", path, f"'split' must be a string, got {shown(split)}",
                           lineno)
                continue
            index = len(batch.records)
            batch.records.append(ImageRecord(
                image_path, obj["image_path"], labeled=not options.unlabeled,
                split="pool" if options.unlabeled else (normalize_split(split) if split else None),
                group=str(obj["group"]) if obj.get("group") is not None else None))
            if isinstance(split, str) and normalize_split(split) is None and not options.unlabeled:
                batch.error("bad-split", path, f"split {split!r} is not train, val or test",
                            lineno, index)
            if options.unlabeled:
                continue
            anns = obj.get("bounding_box_annotations", [])
            if not isinstance(anns, list):
                batch.error("bad-annotations", path,
                            f"'bounding_box_annotations' must be a list, got {shown(anns)}",
                            lineno, index)
                continue
            for n, ann in enumerate(anns):
                label = ann.get("annotation_label") if isinstance(ann, dict) else None
                coords = [ann.get(k) for k in _COORDS] if isinstance(ann, dict) else []
                if not isinstance(label, str) or not label or not all(
                        isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
                    batch.error("bad-annotation", path,
                                f"bounding_box_annotations[{n}] needs 'annotation_label' and "
                                f"numeric {', '.join(_COORDS)}; got {shown(ann)}", lineno, index)
                    continue
                xyxyn = [float(c) for c in coords if c is not None]
                batch.boxes.add(index, label, xyxyn, str(path), lineno)
    if not options.unlabeled:
        batch.class_names = sorted(set(batch.boxes.label))
    return batch
