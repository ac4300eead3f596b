"""COCO detection JSON: ``images``, ``annotations`` (``bbox`` = ``[x, y, w, h]`` in pixels),
``categories``. Images are found relative to ``--images DIR`` or the JSON's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.errors import SourceError
from workbench.media.coco import bbox_xywh, declared_size, entry_name, is_key, unknown_category
from workbench.media.coco import categories as coco_categories
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions, shown

MAX_JSON_BYTES = 2 * 1024**3


def load_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file with a size limit and an error that names the file and position."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if path.stat().st_size > max_bytes:
        raise SourceError(f"{path}: larger than the {max_bytes} byte limit for JSON files")
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text: {exc}") from exc


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse a COCO detection JSON; see the module docstring."""
    if path.is_dir():
        candidates = sorted(path.glob("*.json"))
        if len(candidates) != 1:
            raise SourceError(f"{path}: expected one COCO .json in the folder, found "
                              f"{len(candidates)}; pass the JSON file itself")
        path = candidates[0]
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise SourceError(f"{path}: not a COCO detection file (no 'images' list)")
    image_dir = options.images_dir or path.parent
    batch = SourceBatch()
    categories = coco_categories(doc, str(path))
    if not options.unlabeled:
        batch.class_names = list(dict.fromkeys(categories.values()))
    by_id: dict[Any, int] = {}
    for n, img in enumerate(doc["images"]):
        where = f"{path} images[{n}]"
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img \
                or not is_key(img["id"]):
            batch.drop("bad-image-entry", where,
                        f"an image entry needs 'id' and 'file_name', got {shown(img)}")
            continue
        if "\x00" in str(img["file_name"]):
            batch.drop("bad-image-entry", where,
                       f"'file_name' {shown(img['file_name'])} contains a NUL character")
            continue
        image_path = (image_dir / str(img["file_name"])).resolve()
        if not image_path.is_file():
            batch.drop("missing-image", where,
                        f"image {img['file_name']!r} not found in {image_dir}; pass --images DIR")
            continue
        declared = declared_size(img)
        by_id[img["id"]] = len(batch.records)
        batch.records.append(ImageRecord(
            image_path, str(img["file_name"]), labeled=not options.unlabeled,
            split="pool" if options.unlabeled else None, declared_size=declared))
    if options.unlabeled:
        return batch
    anns = doc.get("annotations") or []
    if not isinstance(anns, list):
        raise SourceError(f"{path}: 'annotations' must be a list, got {shown(anns)}")
    for n, ann in enumerate(anns):
        where = f"{path} annotations[{n}]"
        if not isinstance(ann, dict):
            batch.error("bad-annotation", where,
                        f"an annotation must be an object, got {shown(ann)}")
            continue
        index = by_id.get(ann.get("image_id")) if is_key(ann.get("image_id")) else None
        if index is None:
            batch.error("unknown-image-id", where,
                        f"image_id {ann.get('image_id')!r} of {entry_name(ann, n)} is not in "
                        "'images' (or its file is missing)")
            continue
        if not is_key(ann.get("category_id")) or ann.get("category_id") not in categories:
            batch.error("unknown-category", where, unknown_category(ann, n, categories),
                        image=index)
            continue
        record = batch.records[index]
        bbox = ann.get("bbox")
        xywh = bbox_xywh(bbox)
        if xywh is None:
            batch.error("bad-bbox", where, f"'bbox' of {entry_name(ann, n)} must be [x, y, "
                        f"width, height] numbers, got {shown(bbox)}", image=index)
            continue
        if record.declared_size is None:
            batch.error("no-image-size", where,
                        f"the image entry of {entry_name(ann, n)} has no positive integer "
                        "'width' and 'height' to normalize the box; add them to the image entry",
                        image=index)
            continue
        w, h = record.declared_size
        x, y, bw, bh = xywh
        batch.boxes.add(index, categories[ann["category_id"]],
                        (x / w, y / h, (x + bw) / w, (y + bh) / h), where, wh=(bw / w, bh / h))
    return batch
