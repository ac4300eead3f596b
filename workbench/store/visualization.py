"""2-D maps of image embeddings for the App's Embeddings panel (FiftyOne Brain runs).

:func:`compute_visualization` reduces an ``emb_<run>`` vector field to 2-D points with
``fiftyone.brain.compute_visualization`` and stores them as a brain run under a key (see
:func:`visualization_key`); the App's Embeddings panel lists that key and draws the points,
coloured by any field (``split``, ``status``, ``round_selected``). The methods are registered
once, in :data:`METHODS`; everything that offers a choice (config, CLI, App) reads them there.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.store.predictions import field_name
from workbench.store.schema import field_types

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: Fewest images a 2-D map can be computed from.
MIN_POINTS = 2


@dataclass(frozen=True)
class VisualizationMethod:
    """A dimensionality reduction FiftyOne Brain offers.

    Attributes:
        brain_method: the ``method`` argument of ``fiftyone.brain.compute_visualization``.
        module: the module it needs beyond FiftyOne's own requirements (None: none).
        install: the command that installs ``module``.
    """

    brain_method: str
    module: str | None = None
    install: str | None = None

    def available(self) -> bool:
        """Whether the method's extra module is importable."""
        return self.module is None or importlib.util.find_spec(self.module) is not None


METHODS: Registry[VisualizationMethod] = Registry("visualization method")
METHODS.register("pca", VisualizationMethod("pca"),
                 help="principal components: fast, deterministic, global structure")
METHODS.register("tsne", VisualizationMethod("tsne"),
                 help="t-SNE: local neighbourhoods (slower; seeded)")
METHODS.register("umap", VisualizationMethod("umap", module="umap",
                                             install="pip install umap-learn"),
                 help="UMAP: local and global structure (needs umap-learn)")


class VisualizationDependencyError(WorkbenchError):
    """The chosen visualization method needs a package that is not installed."""


def visualization_key(run: str) -> str:
    """The brain key of the 2-D map of run ``run``'s embeddings: ``viz_<run>``.

    A valid identifier (FiftyOne's rule for run keys): characters other than letters,
    digits and ``_`` become ``_``.
    """
    return field_name("viz", run)


def method_help() -> str:
    """``pca | tsne | umap (pip install umap-learn)``: the registered methods for help texts."""
    return " | ".join(e.name + (f" ({e.value.install})" if e.value.install else "")
                      for e in METHODS)


def require_method(method: str) -> VisualizationMethod:
    """The registered ``method``, checked to be usable here.

    Raises:
        UnknownNameError: ``method`` is not registered (lists the valid ones).
        VisualizationDependencyError: its extra package is missing (names the install).
    """
    spec = METHODS.get(method)
    if not spec.available():
        raise VisualizationDependencyError(
            f"visualization method {method!r} needs the {spec.module!r} module, which is not "
            f"installed; run `{spec.install}`, or choose one of "
            f"{[e.name for e in METHODS if e.value.available()]}")
    return spec


def brain_keys(ws: Workspace) -> list[str]:
    """The dataset's brain run keys (read without fiftyone)."""
    doc = ws.dataset_document({"brain_methods": 1})
    return sorted(str(k) for k in (doc.get("brain_methods") or {}))


def compute_visualization(ws: Workspace, emb_field: str, brain_key: str, method: str = "pca",
                          seed: int = 0) -> dict[str, Any]:
    """Compute the 2-D map of ``emb_field`` over the samples that have it, as ``brain_key``.

    The run is computed under a temporary key and renamed to ``brain_key`` only when it is
    complete: a failure leaves no half-made key and keeps an existing ``brain_key`` as it
    was; a success replaces it.

    Args:
        ws: the workspace.
        emb_field: a vector field (``emb_<run>``).
        brain_key: the brain run key to store the map under (:func:`visualization_key`).
        method: a name of :data:`METHODS`.
        seed: random seed of the reduction.

    Returns:
        ``{"brain_key", "embeddings_field", "method", "points", "seed"}``.

    Raises:
        UnknownNameError, VisualizationDependencyError: see :func:`require_method`.
        WorkbenchError: ``emb_field`` is not a vector field, or fewer than
            :data:`MIN_POINTS` samples have it.
    """
    spec = require_method(method)
    kind = field_types(ws).get(emb_field)
    if kind is None or not kind.startswith("VectorField"):
        raise WorkbenchError(f"{emb_field!r} is not an embeddings field of this workspace "
                             f"(found: {kind or 'no such field'}); predict with "
                             "`workbench predict --embeddings` first")
    n = ws.samples.count_documents({emb_field: {"$type": ["array", "binData"]}})
    if n < MIN_POINTS:
        raise WorkbenchError(f"only {n} samples have {emb_field!r}; a 2-D map needs at least "
                             f"{MIN_POINTS}")
    from workbench.store.connection import fiftyone

    fiftyone()  # FiftyOne pointed at the workspace's database before the brain imports it
    import fiftyone.brain as fob

    kwargs: dict[str, Any] = {"seed": seed}
    if spec.brain_method == "tsne":
        kwargs |= {"perplexity": min(30.0, max(1.0, (n - 1) / 3)), "pca_dims": min(50, n),
                   "verbose": False}
    elif spec.brain_method == "umap":
        kwargs |= {"num_neighbors": min(15, n - 1), "verbose": False}
    replace_brain_run(ws, brain_key, lambda ds, key: fob.compute_visualization(
        ds.exists(emb_field), embeddings=emb_field, brain_key=key, method=spec.brain_method,
        progress=False, **kwargs))
    return {"brain_key": brain_key, "embeddings_field": emb_field, "method": method,
            "points": n, "seed": seed}


def replace_brain_run(ws: Workspace, brain_key: str, compute: Callable[[Any, str], Any]) -> None:
    """Run ``compute(dataset, key)`` under a temporary brain key and rename it to ``brain_key``
    only when it succeeded: a failure leaves no half-made key and keeps the previous one."""
    ds = ws.dataset
    ds.reload()
    temporary = f"{brain_key}_tmp_{uuid.uuid4().hex[:8]}"
    try:
        compute(ds, temporary)
        if brain_key in ds.list_brain_runs():
            ds.delete_brain_run(brain_key)
        ds.rename_brain_run(temporary, brain_key)
    finally:
        if temporary in ds.list_brain_runs():
            ds.delete_brain_run(temporary)
