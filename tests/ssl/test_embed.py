"""``ssl embed``: ``emb_<run>`` written in bulk, a 2-D map and a similarity index registered
with FiftyOne Brain, and core-set selection reading the embeddings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CLASSES
from workbench.errors import WorkbenchError
from workbench.prediction.api import PredictionsImportConfig, import_predictions
from workbench.selection.api import SelectConfig, select
from workbench.ssl.api import EmbedConfig, embed
from workbench.store import runs
from workbench.store.visualization import brain_keys

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def embedded(ssl_ws: Any, pretrained: Any) -> Any:
    return embed(ssl_ws, EmbedConfig(run=pretrained.run))


def test_embeddings_are_stored_for_every_image_with_brain_runs(
        ssl_ws: Any, pretrained: Any, embedded: Any) -> None:
    field = f"emb_{pretrained.run.replace('-', '_')}"
    assert embedded.embeddings_field == field
    assert embedded.images == ssl_ws.samples.count_documents({}) == 34
    assert embedded.dim == pretrained.feature_dim == 256
    vectors = np.asarray([d[field] for d in ssl_ws.samples.find({}, {field: 1})])
    assert vectors.shape == (34, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len({tuple(np.round(v, 6)) for v in vectors}) == 34  # not a constant
    keys = brain_keys(ssl_ws)
    assert embedded.visualization_key in keys and embedded.similarity_key in keys
    doc = runs.get_run(ssl_ws, pretrained.run)
    assert doc is not None and doc["embeddings"]["embeddings_field"] == field


def test_similarity_index_sorts_by_similarity(ssl_ws: Any, embedded: Any) -> None:
    ds = ssl_ws.dataset
    ds.reload()
    query = ds.first().id
    nearest = ds.sort_by_similarity(query, k=3, brain_key=embedded.similarity_key)
    assert nearest.first().id == query  # an image is most similar to itself


def test_coreset_selection_reads_the_ssl_embeddings(ssl_ws: Any, embedded: Any,
                                                    tmp_path: Path) -> None:
    pool = [d["filepath"] for d in ssl_ws.samples.find({"split": "pool"}, {"filepath": 1})]
    assert len(pool) == 8
    probs = [1.0 / len(CLASSES)] * len(CLASSES)
    lines = [json.dumps({"filepath": f, "detections": [
        {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.3,
         "class_probs": probs}]}) for f in pool]
    path = tmp_path / "preds.jsonl"
    path.write_text("\n".join(lines) + "\n")
    import_predictions(ssl_ws, PredictionsImportConfig(path=path, run="p-ssl"))
    chosen = select(ssl_ws, SelectConfig(n=3, run="p-ssl", diversity="coreset",
                                         embeddings=embedded.embeddings_field, dry_run=True))
    assert len(chosen.sample_ids) == 3 and len(set(chosen.sample_ids)) == 3
    with pytest.raises(WorkbenchError):
        select(ssl_ws, SelectConfig(n=3, run="p-ssl", diversity="coreset",
                                    embeddings="emb_no_such_run", dry_run=True))


def test_unknown_runs_are_refused(ssl_ws: Any) -> None:
    with pytest.raises(WorkbenchError, match="no pretraining run"):
        embed(ssl_ws, EmbedConfig(run="nope"))


def test_the_embed_operator_reports_progress(ssl_ws: Any, pretrained: Any) -> None:
    from workbench.ui.api import operators, run_operator

    reports: list[tuple[float, str]] = []
    out = run_operator(operators().get("wb_ssl_embed"), ssl_ws,
                       {"run": pretrained.run, "view": "split:val", "visualization": "none",
                        "similarity": False}, lambda f, text: reports.append((f, text)))
    assert out["images"] == 10 and out["visualization_key"] is None
    assert reports and reports[-1] == (1.0, "10/10 images")
    spec = operators().get("wb_ssl_pretrain")
    assert spec.long and [f for f in spec.form() if f.name == "method"]


def test_the_pretrain_probe_and_compare_operators_run_delegated(ssl_ws: Any,
                                                                pretrained: Any) -> None:
    from tests.ui.plugin_ctx import execute, operator

    progress: list[tuple[float, str]] = []
    out, _ = execute(ssl_ws, "wb_ssl_pretrain", delegated=True, progress=progress,
                     view="split:val", method="byol", model="yolov8n.yaml", imgsz=96,
                     epochs=1, batch=8, run="ssl-op")
    assert out["result"]["run"] == "ssl-op" and out["result"]["epochs"] == 1
    assert progress[-1][0] == 1.0 and "loss" in progress[-1][1]
    form = {f.name: f for f in operator("wb_ssl_probe").spec.form(ssl_ws)}
    assert set(form["run"].choices) == {"ssl-op", pretrained.run}
    probed, _ = execute(ssl_ws, "wb_ssl_probe", delegated=True, run="ssl-op", max_boxes=60)
    assert probed["ok"] and "random" in probed["summary"].lower()
    compared, _ = execute(ssl_ws, "wb_ssl_compare", delegated=True, run="ssl-op",
                          labels="4", seeds=1, imgsz=96, epochs=1, batch=4)
    assert compared["ok"], compared["summary"]
