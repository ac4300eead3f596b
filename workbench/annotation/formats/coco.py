"""COCO detection JSON (``images``, ``annotations`` with pixel ``[x, y, w, h]``, ``categories``).

Entries with a ``score`` are predictions and are refused, as is the package's own
``predictions.coco.json`` renamed.
"""

from __future__ import annotations

from typing import Any

from workbench.annotation.bundle import Bundle, read_json
from workbench.annotation.formats.base import Collector, Returned, single_member
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError
from workbench.media.coco import (
    bbox_xywh,
    categories,
    declared_size,
    entry_name,
    is_coco,
    is_key,
    unknown_category,
)
from workbench.media.records import shown

__all__ = ["is_coco", "parse"]


def parse(bundle: Bundle, members: list[str], manifest: Manifest) -> Returned:
    """Parse one COCO JSON member."""
    member = single_member(bundle, members, ".json", "COCO .json")
    doc = read_json(bundle, member)
    if not is_coco(doc):
        raise SourceError(f"{bundle.label}: {member} is not COCO detection (no 'images' list)")
    col = Collector(manifest, bundle.label)
    where = col.where(member)
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    if info.get("workbench_kind") == "predictions":
        col.prediction(where, "the file is the package's predictions.coco.json")
        return Returned("coco", col.batch, [member])
    names = categories(doc, where)
    record_of: dict[Any, int] = {}
    for n, img in enumerate(doc["images"]):
        at = f"{where} images[{n}]"
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img \
                or not is_key(img["id"]):
            col.batch.error("bad-image-entry", at,
                            f"an image entry needs 'id' and 'file_name', got {shown(img)}")
            continue
        k = col.image(str(img["file_name"]), at, declared_size(img))
        if k is not None:
            record_of[img["id"]] = k
    scored = 0
    anns = doc.get("annotations") or []
    if not isinstance(anns, list):
        raise SourceError(f"{where}: 'annotations' must be a list, got {shown(anns)}")
    for n, ann in enumerate(anns):
        at = f"{where} annotations[{n}]"
        if not isinstance(ann, dict):
            col.batch.error("bad-annotation", at,
                            f"an annotation must be an object, got {shown(ann)}")
            continue
        if "score" in ann:
            scored += 1
            continue
        k = record_of.get(ann.get("image_id")) if is_key(ann.get("image_id")) else None
        if k is None:
            col.batch.error("unknown-image-id", at,
                            f"image_id {ann.get('image_id')!r} of {entry_name(ann, n)} is not a "
                            "package image in 'images'")
            continue
        if not is_key(ann.get("category_id")) or ann.get("category_id") not in names:
            col.batch.error("unknown-category", at, unknown_category(ann, n, names))
            continue
        box = bbox_xywh(ann.get("bbox"))
        if box is None:
            col.batch.error("bad-bbox", at,
                            f"'bbox' of {entry_name(ann, n)} must be [x, y, width, height] "
                            f"numbers, got {shown(ann.get('bbox'))}")
            continue
        x, y, w, h = box
        col.box_px(k, names[ann["category_id"]], (x, y, x + w, y + h), at, wh=(w, h))
    if scored:
        col.prediction(where, f"{scored} annotations carry a 'score'")
    return Returned("coco", col.batch, [member])
