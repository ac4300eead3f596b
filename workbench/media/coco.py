"""COCO detection JSON pieces shared by ingestion (``--format coco``) and annotation imports.

Pure helpers over the parsed document: what counts as COCO, the category map, an image
entry's declared size and a validated ``bbox``; plus JSON decoding with an error that names
the file, line and column. Callers keep their own record-keeping and messages per entry.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.errors import SourceError


def decode_json(data: str | bytes, where: str) -> Any:
    """Parse JSON text; errors name ``where`` (a file, or ``bundle: member``) and the position.

    Raises:
        SourceError: not valid JSON, or bytes that are not UTF-8.
    """
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where}:{exc.lineno}: not valid JSON: {exc.msg} "
                          f"(column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where}: not UTF-8 text: {exc}") from exc


def is_coco(doc: Any) -> bool:
    """Whether a JSON document looks like COCO detection (an ``images`` list)."""
    return isinstance(doc, dict) and isinstance(doc.get("images"), list)


def categories(doc: dict[str, Any], where: str) -> dict[Any, str]:
    """``category id -> name`` of a COCO document.

    Raises:
        SourceError: a category without ``id`` or ``name`` (named with ``where``).
    """
    found: dict[Any, str] = {}
    cats = doc.get("categories") or []
    if not isinstance(cats, list):
        raise SourceError(f"{where}: 'categories' must be a list, got {type(cats).__name__}")
    for cat in cats:
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat \
                or not is_key(cat["id"]):
            raise SourceError(f"{where}: every category needs 'id' and 'name': {cat!r}"[:300])
        found[cat["id"]] = str(cat["name"])
    return found


def declared_size(image: dict[str, Any]) -> tuple[int, int] | None:
    """``(width, height)`` of an image entry when both are positive integers, else None."""
    w, h = image.get("width"), image.get("height")
    if isinstance(w, int) and isinstance(h, int) and all(
            not isinstance(v, bool) and 0 < v < 2**31 for v in (w, h)):
        return w, h
    return None


def is_key(value: Any) -> bool:
    """Whether a JSON value can be an id or a dict key (not a list or an object)."""
    return not isinstance(value, list | dict)


def bbox_xywh(bbox: Any) -> tuple[float, float, float, float] | None:
    """A COCO ``bbox`` ``[x, y, width, height]`` (pixels) as floats, or None when malformed."""
    if (not isinstance(bbox, list) or len(bbox) != 4
            or not all(isinstance(v, int | float) for v in bbox)):
        return None
    try:
        x, y, w, h = (float(v) for v in bbox)
    except OverflowError:  # an integer beyond float range
        return None
    return x, y, w, h


def _id_range(ids: list[Any]) -> str:
    """``1..7`` for consecutive integer ids, else the ids listed (at most 20)."""
    if ids and all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids) == (
            max(ids) - min(ids) + 1):
        return f"{min(ids)}..{max(ids)}"
    listed = ", ".join(repr(i) for i in ids[:20])
    return listed + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "") if ids else "none"


def entry_name(ann: dict[str, Any], index: int) -> str:
    """``annotation 5 (image 3)``: an annotation by its ``id`` (else its position) and image."""
    ident = ann.get("id", f"#{index}")
    return f"annotation {ident!r} (image_id {ann.get('image_id')!r})"


def unknown_category(ann: dict[str, Any], index: int, known: dict[Any, str]) -> str:
    """The message for an annotation whose ``category_id`` is not a category."""
    return (f"unknown category_id {ann.get('category_id')!r} in {entry_name(ann, index)}; "
            f"'categories' has ids {_id_range(list(known))}; fix the id or add the category")
