"""Similarity indexes of image embeddings (FiftyOne Brain, scikit-learn backend).

:func:`compute_similarity` indexes an ``emb_<run>`` field so that the App can sort samples by
similarity to the selected ones; the index is a brain run under :func:`similarity_key`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.store.predictions import field_name
from workbench.store.schema import field_types
from workbench.store.visualization import replace_brain_run

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def similarity_key(run: str) -> str:
    """The brain key of run ``run``'s similarity index: ``sim_<run>`` (a valid identifier)."""
    return field_name("sim", run)


def compute_similarity(ws: Workspace, emb_field: str, brain_key: str,
                       metric: str = "cosine") -> dict[str, Any]:
    """Index ``emb_field`` over the samples that have it as brain run ``brain_key``.

    Built under a temporary key and renamed when complete: a failure leaves no half-made key
    and keeps an existing ``brain_key``; a success replaces it.

    Args:
        ws: the workspace.
        emb_field: a vector field (``emb_<run>``).
        brain_key: where to store the index (:func:`similarity_key`).
        metric: the distance of the sklearn backend.

    Returns:
        ``{"brain_key", "embeddings_field", "points", "metric"}``.

    Raises:
        WorkbenchError: ``emb_field`` is not a vector field, or no sample has it.
    """
    kind = field_types(ws).get(emb_field)
    if kind is None or not kind.startswith("VectorField"):
        raise WorkbenchError(f"{emb_field!r} is not an embeddings field of this workspace "
                             f"(found: {kind or 'no such field'})")
    n = ws.samples.count_documents({emb_field: {"$type": ["array", "binData"]}})
    if n == 0:
        raise WorkbenchError(f"no sample has {emb_field!r}; compute the embeddings first")
    from workbench.store.connection import fiftyone

    fiftyone()  # FiftyOne pointed at the workspace's database before the brain imports it
    import fiftyone.brain as fob

    replace_brain_run(ws, brain_key, lambda ds, key: fob.compute_similarity(
        ds.exists(emb_field), embeddings=emb_field, backend="sklearn", metric=metric,
        brain_key=key, progress=False))
    return {"brain_key": brain_key, "embeddings_field": emb_field, "points": n,
            "metric": metric}
