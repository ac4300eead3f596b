"""2-D maps of embeddings as FiftyOne Brain runs, on a real mongod (synthetic embeddings)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import demo_images
from workbench.core.types import Predictions
from workbench.errors import UnknownNameError, WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.store import predictions, visualization
from workbench.store.visualization import (
    METHODS,
    VisualizationDependencyError,
    compute_visualization,
    visualization_key,
)

pytestmark = pytest.mark.integration
UMAP_INSTALLED = importlib.util.find_spec("umap") is not None


def _with_embeddings(ws: Any, tmp_path: Path, n: int, with_emb: int, run: str = "p",
                     dim: int = 16) -> list[Any]:
    """``n`` pool images, the first ``with_emb`` of them predicted with embeddings."""
    ws.add_classes(["fish"])
    pool = tmp_path / "pool"
    pool.mkdir(exist_ok=True)
    for p in demo_images(n=n):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    ids = predictions.view_files(ws, "pool")[0][:with_emb]
    rng = np.random.default_rng(0)
    empty = Predictions(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.int64))
    predictions.write_predictions(ws, run, ids, empty, ws.classes,
                                  embeddings=rng.normal(size=(len(ids), dim)))
    return ids


def _keys(ws: Any) -> list[str]:
    ds = ws.dataset
    ds.reload()
    return list(ds.list_brain_runs())


def test_keys_and_methods_are_named_in_one_place() -> None:
    assert visualization_key("predict-2026.11") == "viz_predict_2026_11"
    assert visualization_key("a b").isidentifier()
    assert METHODS.names() == ["pca", "tsne", "umap"]
    assert visualization.method_help() == "pca | tsne | umap (pip install umap-learn)"


def test_pca_map_has_a_point_for_every_sample_with_embeddings(workspace, tmp_path: Path
                                                              ) -> None:  # type: ignore[no-untyped-def]
    ids = _with_embeddings(workspace, tmp_path, 10, 7)
    out = compute_visualization(workspace, "emb_p", "viz_p")
    assert out == {"brain_key": "viz_p", "embeddings_field": "emb_p", "method": "pca",
                   "points": 7, "seed": 0}
    assert _keys(workspace) == ["viz_p"] == visualization.brain_keys(workspace)
    results = workspace.dataset.load_brain_results("viz_p")
    assert results.points.shape == (7, 2)
    assert sorted(str(i) for i in results.current_sample_ids) == sorted(str(i) for i in ids)
    assert np.isfinite(results.points).all() and results.points.std(axis=0).min() > 0
    # Replacing the key (another method, another seed) leaves one key, the new map.
    again = compute_visualization(workspace, "emb_p", "viz_p", method="tsne", seed=3)
    assert again["method"] == "tsne" and again["points"] == 7
    assert _keys(workspace) == ["viz_p"]
    info = workspace.dataset.get_brain_info("viz_p")
    assert info.config.method == "tsne" and info.config.seed == 3


def test_a_failed_map_leaves_no_key_and_keeps_the_old_one(workspace, tmp_path: Path
                                                          ) -> None:  # type: ignore[no-untyped-def]
    ids = _with_embeddings(workspace, tmp_path, 6, 6)
    # One vector of another length: the brain run is registered, then stacking fails.
    bad = workspace.samples.update_one({"_id": ids[0]}, {"$set": {"emb_p": [1.0, 2.0]}})
    assert bad.modified_count == 1
    with pytest.raises(ValueError):
        compute_visualization(workspace, "emb_p", "viz_p")
    assert _keys(workspace) == []
    workspace.samples.update_one({"_id": ids[0]}, {"$set": {"emb_p": [0.5] * 16}})
    compute_visualization(workspace, "emb_p", "viz_p")
    workspace.samples.update_one({"_id": ids[0]}, {"$set": {"emb_p": [1.0, 2.0]}})
    with pytest.raises(ValueError):
        compute_visualization(workspace, "emb_p", "viz_p", method="tsne")
    assert _keys(workspace) == ["viz_p"]
    assert workspace.dataset.get_brain_info("viz_p").config.method == "pca"


def test_bad_inputs_say_what_is_wrong(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _with_embeddings(workspace, tmp_path, 3, 1)
    with pytest.raises(WorkbenchError, match="only 1 samples have 'emb_p'"):
        compute_visualization(workspace, "emb_p", "viz_p")
    with pytest.raises(WorkbenchError, match=r"'split' is not an embeddings field.*--embeddings"):
        compute_visualization(workspace, "split", "viz_p")
    with pytest.raises(UnknownNameError, match="valid visualization methods: pca, tsne, umap"):
        compute_visualization(workspace, "emb_p", "viz_p", method="mds")
    assert _keys(workspace) == []


@pytest.mark.skipif(UMAP_INSTALLED, reason="umap-learn is installed here")
def test_umap_without_umap_learn_names_the_install(workspace, tmp_path: Path
                                                   ) -> None:  # type: ignore[no-untyped-def]
    _with_embeddings(workspace, tmp_path, 4, 4)
    with pytest.raises(VisualizationDependencyError, match="`pip install umap-learn`"):
        compute_visualization(workspace, "emb_p", "viz_p", method="umap")
    assert _keys(workspace) == []
