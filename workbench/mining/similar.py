"""``mine --similar K``: pool images that look like the model's confident false positives.

Each false-positive box is cropped (with 10 % context) and embedded by the backbone that made
the pool's embeddings: the detector's own (the mined run's weights; the pool is embedded on the
fly) or the model behind an ``emb_<run>`` field (a prediction run's weights or a pretraining
run's checkpoint). The ``K`` most cosine-similar unlabeled pool images of every crop are
queued as one round (a ``hand-picked`` selection, so ``annotate export`` and ``loop next`` take
it like any other round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.mining import top_k_similar
from workbench.errors import WorkbenchError
from workbench.media.crops import crop_boxes
from workbench.mining.config import MineConfig
from workbench.mining.mine import Evaluated
from workbench.store import mining as store
from workbench.store.workspace import Workspace

#: Side of the square false-positive crops, in pixels, at most.
MAX_CROP = 224


def _model_of(ws: Workspace, config: MineConfig, weights: str,
              imgsz: int) -> tuple[str, int]:
    """The checkpoint whose backbone embeds the crops, and its input size."""
    if not config.embeddings:
        return weights, imgsz
    source = store.embedding_source(ws, config.embeddings)
    if source is None:
        raise WorkbenchError(
            f"no prediction or pretraining run of this workspace wrote {config.embeddings!r}; "
            "leave out --embeddings (the detector's own features are used) or make them with "
            "`workbench predict --embeddings` / `workbench ssl embed`")
    if source["kind"] == "ssl":
        from workbench.ssl.api import checkpoint

        return str(checkpoint(ws, source["run"])), imgsz
    model = str(source.get("model") or "")
    if Path(model).suffix != ".pt" or not Path(model).is_file():
        raise WorkbenchError(f"{config.embeddings!r} was written by model {model!r}, which is "
                             "not a local .pt whose backbone can embed the crops; use the "
                             "detector's own features (leave out --embeddings)")
    return model, int(source.get("imgsz") or imgsz)


def queue_similar(ws: Workspace, config: MineConfig, ev: Evaluated, weights: str,
                  imgsz: int, run: str) -> dict[str, Any]:
    """Queue the pool images most similar to the confident false positives as a round.

    Returns:
        ``{"round", "queued", "crops", "embeddings", "warnings"}`` (``round`` is "" when
        there was nothing to queue).

    Raises:
        WorkbenchError: the embeddings cannot be matched to a model; the round exists.
    """
    from workbench.ssl.api import backbone_features, file_features

    pred = ev.arrays["pred"]
    fp = np.flatnonzero(ev.fp)
    out: dict[str, Any] = {"round": "", "queued": 0, "crops": 0,
                           "embeddings": config.embeddings or "detector", "warnings": []}
    if len(fp) == 0:
        out["warnings"].append("no confident false positive to look for")
        return out
    model, size = _model_of(ws, config, weights, imgsz)
    base: np.ndarray | None = None
    if config.embeddings:
        ids, _, base = store.candidate_vectors(ws, config.embeddings)
    else:
        ids, paths = store.candidates(ws)
        base = file_features(model, paths, size, device=config.device) if ids else None
    if not ids or base is None or len(base) == 0:
        out["warnings"].append("the unlabeled pool is empty (or has no "
                               f"{config.embeddings} vectors): nothing to queue")
        return out
    crops, kept = crop_boxes(ev.arrays["filepath"], pred["sample_index"][fp],
                             pred["xywhn"][fp], min(size, MAX_CROP), context=0.1)
    out["crops"] = len(kept)
    if len(kept) == 0:
        out["warnings"].append("every false-positive box was too small to crop")
        return out
    queries = backbone_features(model, config.device)(crops)
    if queries.shape[1] != base.shape[1]:
        raise WorkbenchError(f"the crops' features have {queries.shape[1]} dimensions but "
                             f"{config.embeddings} has {base.shape[1]}")
    neighbours, sims = top_k_similar(queries, base, config.similar)
    # the union, each image ranked by its best similarity to any crop
    flat, best = neighbours.ravel(), sims.ravel()
    order = np.argsort(-best, kind="stable")
    _, first = np.unique(flat[order], return_index=True)
    chosen = flat[order][np.sort(first)]
    from workbench.selection.api import SelectConfig, select

    round_name = config.round or f"mine-{run}"
    result = select(ws, SelectConfig(n=len(chosen), strategy="hand-picked",
                                     sample_ids=[str(ids[i]) for i in chosen],
                                     round=round_name, seed=config.seed))
    out.update(round=result.round, queued=result.selected, warnings=list(result.warnings))
    return out
