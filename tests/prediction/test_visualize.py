"""``workbench visualize`` / ``api.visualize`` on a real mongod (synthetic embeddings, no model)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import demo_images
from workbench.cli.main import build_app
from workbench.core.types import Predictions
from workbench.errors import UnknownNameError, WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.prediction.api import (
    VISUALIZATION_METHODS,
    PredictConfig,
    VisualizeConfig,
    VisualizeResult,
    visualize,
)
from workbench.store import predictions, runs
from workbench.store.runs import RunKind

pytestmark = pytest.mark.integration


def _run(ws: Any, run: str, ids: list[Any], embeddings: bool, seconds: int) -> None:
    """A prediction run as ``predict`` records it, from synthetic arrays."""
    empty = Predictions(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.int64))
    emb = np.random.default_rng(seconds).normal(size=(len(ids), 8)) if embeddings else None
    written = predictions.write_predictions(ws, run, ids, empty, ws.classes, embeddings=emb)
    runs.record_run(ws, RunKind.PREDICT, run, {}, {"embeddings_field":
                                                   written["embeddings_field"]},
                    dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))


def _pool(ws: Any, tmp_path: Path, n: int) -> list[Any]:
    ws.add_classes(["fish"])
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=n):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    return predictions.view_files(ws, "pool")[0]


def test_config_reads_its_choices_from_the_registry() -> None:
    assert VisualizeConfig().method == "pca" and VisualizeConfig().run is None
    assert VisualizeConfig().seed == 0
    for name in VISUALIZATION_METHODS.names():
        assert VisualizeConfig(method=name).method == name
    with pytest.raises(UnknownNameError, match="valid visualization methods"):
        VisualizeConfig(method="mds")
    assert PredictConfig(model="m.pt").display_conf == 0.25


def test_visualize_maps_the_newest_run_with_embeddings(workspace, tmp_path: Path
                                                       ) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WorkbenchError, match=r"no prediction run .* has embeddings"):
        visualize(workspace, VisualizeConfig())
    ids = _pool(workspace, tmp_path, 6)
    _run(workspace, "old", ids, embeddings=True, seconds=0)
    _run(workspace, "mid", ids[:4], embeddings=True, seconds=1)
    _run(workspace, "new", ids, embeddings=False, seconds=2)
    res = visualize(workspace, VisualizeConfig())
    assert isinstance(res, VisualizeResult)
    assert (res.run, res.embeddings_field, res.brain_key, res.points) == ("mid", "emb_mid",
                                                                          "viz_mid", 4)
    assert set(res.to_dict()) == {"run", "embeddings_field", "brain_key", "method", "points",
                                  "seed", "seconds"}
    with pytest.raises(WorkbenchError, match="no run named 'nope'"):
        visualize(workspace, VisualizeConfig(run="nope"))
    with pytest.raises(WorkbenchError, match="'emb_new' is not an embeddings field"):
        visualize(workspace, VisualizeConfig(run="new"))
    # The CLI: same call, --json is the result's to_dict.
    result = CliRunner().invoke(build_app(), ["visualize", "--run", "old", "--method", "tsne",
                                              "--seed", "2", "-w", str(workspace.root),
                                              "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("run", "brain_key", "method", "points", "seed")} == {
        "run": "old", "brain_key": "viz_old", "method": "tsne", "points": 6, "seed": 2}
    ds = workspace.dataset
    ds.reload()
    assert sorted(ds.list_brain_runs()) == ["viz_mid", "viz_old"]
    assert ds.load_brain_results("viz_old").points.shape == (6, 2)
