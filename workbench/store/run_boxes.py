"""Boxes of several Detections fields of one view as flat numpy arrays, in one read.

Ensembles fuse stored prediction runs, calibration matches a run's boxes to the ground truth and
``evaluate --predictions`` scores stored runs: all of them need the same thing, every box of some
fields of a view's samples (sorted by id) as arrays, with each image's size in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.store import schema
from workbench.store.views import labeled_match, view_match

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def view_field_arrays(ws: Workspace, view: str | dict[str, Any], fields: Sequence[str],
                      attrs: Sequence[str] = ("confidence",), probs: bool = False,
                      labeled: bool = False, require: Sequence[str] = ()) -> dict[str, Any]:
    """Every box of ``fields`` on the samples of ``view`` (sorted by id), flat.

    Args:
        ws: the workspace.
        view: a view spec (``split:val``, ``pool`` ...) or a sample filter.
        fields: Detections fields (``ground_truth``, ``pred_<run>`` ...).
        attrs: numeric per-box attributes read from every field (missing: NaN).
        probs: also read each box's ``class_probs`` vector.
        labeled: only ``status=labeled`` samples of the view.
        require: only samples that have all of these fields.

    Returns:
        ``{"ids": [N], "filepath": [N], "width": (N,), "height": (N,), FIELD: {...}}`` with,
        per field, ``sample_index (M,) int64``, ``label (M,) str``, ``xywhn (M, 4)``,
        ``xyxyn (M, 4)``, one ``(M,)`` float array per attribute and, with ``probs``,
        ``class_probs``: ``(M, C)`` when every box has a vector of one length, else None.
        Sizes are NaN where the sample has no metadata.

    Raises:
        ConfigError: an invalid view spec.
    """
    match = view_match(view) if isinstance(view, str) else view
    if labeled:
        match = labeled_match(view) if isinstance(view, str) else {
            "$and": [view, {schema.STATUS: "labeled"}]}
    if require:
        match = {"$and": [match, *({f: {"$exists": True}} for f in require)]}
    projection: dict[str, Any] = {"_id": 1, "filepath": 1, "metadata.width": 1,
                                  "metadata.height": 1}
    for field in fields:
        for part in ("label", "bounding_box", *attrs, *(("class_probs",) if probs else ())):
            projection[f"{field}.detections.{part}"] = 1
    cols: dict[str, dict[str, list[Any]]] = {
        f: {"index": [], "label": [], "box": [], "probs": [], **{a: [] for a in attrs}}
        for f in fields}
    ids: list[Any] = []
    paths: list[str] = []
    width: list[float] = []
    height: list[float] = []
    nan4 = [np.nan] * 4
    for n, doc in enumerate(ws.samples.find(match, projection).sort("_id", 1)):
        ids.append(doc["_id"])
        paths.append(doc.get("filepath", ""))
        meta = doc.get("metadata") or {}
        width.append(np.nan if meta.get("width") is None else float(meta["width"]))
        height.append(np.nan if meta.get("height") is None else float(meta["height"]))
        for field, col in cols.items():
            for d in (doc.get(field) or {}).get("detections") or []:
                col["index"].append(n)
                col["label"].append(str(d.get("label") or ""))
                bb = d.get("bounding_box") or nan4
                col["box"].append(bb if len(bb) == 4 else nan4)
                for a in attrs:
                    v = d.get(a)
                    col[a].append(np.nan if v is None else float(v))
                if probs:
                    col["probs"].append(d.get("class_probs"))
    out: dict[str, Any] = {"ids": ids, "filepath": paths,
                           "width": np.asarray(width, dtype=np.float64),
                           "height": np.asarray(height, dtype=np.float64)}
    for field, col in cols.items():
        xywhn = np.asarray(col["box"], dtype=np.float64).reshape(-1, 4)
        arrays: dict[str, Any] = {
            "sample_index": np.asarray(col["index"], dtype=np.int64),
            "label": np.asarray(col["label"], dtype=str),
            "xywhn": xywhn,
            "xyxyn": np.c_[xywhn[:, :2], xywhn[:, :2] + xywhn[:, 2:]],
            **{a: np.asarray(col[a], dtype=np.float64) for a in attrs},
        }
        if probs:
            vectors = col["probs"]
            lengths = {len(v) if isinstance(v, list) else -1 for v in vectors}
            arrays["class_probs"] = (np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
                                     if len(lengths) == 1 and -1 not in lengths and vectors
                                     else None)
        out[field] = arrays
    return out
