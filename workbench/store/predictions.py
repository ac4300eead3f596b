"""Write model predictions into ``pred_<run>`` fields in bulk, with per-image scores.

Boxes are plain FiftyOne documents (no ``fo.Detection`` objects) carrying ``confidence`` and,
when known, the full ``class_probs`` vector. Alongside, ``scores_<run>`` holds the per-image
scores of the built-in strategies (computed once, here, with numpy) so that selection is a
sort on an indexed field.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pymongo import UpdateOne

from workbench.core import scoring
from workbench.core.boxes import xyxyn_to_xywhn
from workbench.core.segments import segments
from workbench.core.types import Predictions
from workbench.store.bulk import detections_doc
from workbench.store.schema import ensure_detections_field

_FIELD_RE = re.compile(r"[^A-Za-z0-9_]")
#: Strategy name -> key inside ``scores_<run>`` (built-in strategies, aggregated with max).
SCORE_KEYS = {"least-confidence": "least_confidence", "margin": "margin", "entropy": "entropy"}
#: Written only by ``predict --tta``.
TTA_KEY = "tta_disagreement"
_CHUNK = 5000


def field_name(prefix: str, run: str) -> str:
    """A valid sample field name such as ``pred_train_20261123``."""
    return f"{prefix}_{_FIELD_RE.sub('_', run)}"


def score_index(scores_field: str, key: str) -> list[tuple[str, int]]:
    """The compound index that answers "pool images by descending score" with an index walk."""
    return [("status", 1), ("split", 1), (f"{scores_field}.{key}", -1), ("_id", 1)]


def score_index_name(scores_field: str, key: str) -> str:
    """Name of :func:`score_index`."""
    return f"wb_{scores_field}_{key}"


def image_scores(preds: Predictions, n_images: int, empty: float = 1.0) -> dict[str, np.ndarray]:
    """Per-image scores of the built-in strategies (max over boxes) plus box stats.

    Returns:
        ``{"least_confidence", "margin", "entropy", "max_conf", "n_boxes"}``, each ``(N,)``.
    """
    idx = preds.image_index
    out: dict[str, np.ndarray] = {}
    for strategy, key in SCORE_KEYS.items():
        if preds.class_probs is not None and preds.class_probs.shape[1] > 0:
            per_box = scoring.BOX_SCORES[strategy](preds.class_probs)
        else:
            per_box = scoring.confidence_uncertainty(preds.confidence)
        out[key] = scoring.aggregate(per_box, idx, n_images, "max", empty=empty)
    out["max_conf"] = scoring.aggregate(preds.confidence, idx, n_images, "max", empty=0.0)
    out["n_boxes"] = np.bincount(idx, minlength=n_images).astype(np.float64)
    return out


def write_predictions(ws: Any, run: str, sample_ids: list[Any], preds: Predictions,
                      classes: list[str], with_scores: bool = True,
                      embeddings: np.ndarray | None = None,
                      tta: tuple[Predictions, np.ndarray, np.ndarray] | None = None,
                      ) -> dict[str, Any]:
    """Set ``pred_<run>`` (and ``scores_<run>``) on the given samples with ``bulk_write``.

    Args:
        ws: the workspace.
        run: the prediction run name.
        sample_ids: ``N`` sample ObjectIds; ``preds.image_index`` indexes this list.
        preds: the boxes.
        classes: class names, indexed by ``preds.class_id``.
        with_scores: also write ``scores_<run>`` and index its keys.
        embeddings: ``(N, D)`` image embeddings to store as ``emb_<run>``.
        tta: ``(boxes of all passes, (M',) pass id per box, (N,) disagreement per image)``:
            stored as ``pred_<run>_tta`` (boxes with ``tta_pass``) and
            ``scores_<run>.tta_disagreement``.

    Returns:
        ``{"field", "scores_field", "samples", "boxes"}``.
    """
    import fiftyone as fo

    field = field_name("pred", run)
    scores_field = field_name("scores", run)
    ds = ws.dataset
    ensure_detections_field(ds, field)
    emb_field = field_name("emb", run)
    schema = ds.get_field_schema()
    if with_scores and scores_field not in schema:
        ds.add_sample_field(scores_field, fo.DictField)
    if embeddings is not None and emb_field not in schema:
        ds.add_sample_field(emb_field, fo.VectorField)
    emb_rows: Any = embeddings.astype(np.float64).tolist() if embeddings is not None else None
    n = len(sample_ids)
    main = _columns(preds, classes, n)
    if preds.class_probs is not None:
        main["per_box"]["class_probs"] = preds.class_probs.tolist()
    scores = image_scores(preds, n) if with_scores else {}
    tta_field = f"{field}_tta"
    if tta is not None:
        ensure_detections_field(ds, tta_field)
        tta_preds, tta_pass, tta_scores = tta
        scores[TTA_KEY] = tta_scores
        passes = _columns(tta_preds, classes, n)
        passes["per_box"]["tta_pass"] = tta_pass.tolist()
    score_rows = [dict(zip(scores, vals, strict=True))
                  for vals in zip(*(v.tolist() for v in scores.values()), strict=True)]
    from workbench.core.perf import paused_gc

    with paused_gc():
        for start in range(0, n, _CHUNK):
            ops = []
            for i in range(start, min(start + _CHUNK, n)):
                update: dict[str, Any] = {field: _detections(main, i)}
                if with_scores:
                    update[scores_field] = score_rows[i]
                if emb_rows is not None:
                    update[emb_field] = emb_rows[i]
                if tta is not None:
                    update[tta_field] = _detections(passes, i)
                ops.append(UpdateOne({"_id": sample_ids[i]}, {"$set": update}))
            if ops:
                ws.samples.bulk_write(ops, ordered=False)
    if with_scores:
        for key in [*SCORE_KEYS.values(), *([TTA_KEY] if tta is not None else [])]:
            ws.samples.create_index(score_index(scores_field, key),
                                    name=score_index_name(scores_field, key))
    return {"field": field, "scores_field": scores_field, "samples": n, "boxes": len(preds),
            "embeddings_field": emb_field if embeddings is not None else None}


def _columns(preds: Predictions, classes: list[str], n: int) -> dict[str, Any]:
    """Python-list columns of ``preds`` and each image's box range, for building documents."""
    starts, ends = segments(preds.image_index, np.arange(n))
    return {"starts": starts, "ends": ends, "labels": [classes[c] for c in preds.class_id.tolist()],
            "boxes": xyxyn_to_xywhn(preds.xyxy).tolist(),
            "per_box": {"confidence": preds.confidence.tolist()}}


def _detections(cols: dict[str, Any], i: int) -> dict[str, Any]:
    s, e = cols["starts"][i], cols["ends"][i]
    return detections_doc(cols["labels"][s:e], cols["boxes"][s:e],
                          **{k: v[s:e] for k, v in cols["per_box"].items()})
