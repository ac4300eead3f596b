"""The long App operators (train, evaluate, predict, export, benchmark, loop next) on a real
workspace, delegated as the App schedules them: progress reported, results in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_images
from tests.training.conftest import covering_workspace
from tests.ui.plugin_ctx import execute
from workbench.store import schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_train_predict_select_export_benchmark_loop(tmp_path: Path, mongo_uri: str) -> None:
    ws = covering_workspace(tmp_path, mongo_uri, 16, 8)
    try:
        _flow(ws, tmp_path)
    finally:
        ws.dataset.delete()
        ws.runs.delete_many({"dataset": ws.config.name})


def _flow(ws: Any, tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("test", 6):
        (pool / p.name).write_bytes(p.read_bytes())
    ingested, _ = execute(ws, "wb_ingest", path=str(pool), format="images", unlabeled=True)
    assert ingested["ok"], ingested["summary"]

    progress: list[tuple[float, str]] = []
    trained, _ = execute(ws, "wb_train", delegated=True, progress=progress, model="micro-relu",
                         imgsz=160, epochs=2, batch=8, workers=0, run="op-run")
    assert trained["result"]["run"] == "op-run" and Path(trained["result"]["weights"]).is_file()
    assert [round(p[0], 2) for p in progress] == [0.5, 1.0]
    assert progress[-1][1].startswith("epoch 2/2")

    evaluated, _ = execute(ws, "wb_evaluate", delegated=True, run="op-run")
    assert evaluated["ok"] and 0 <= evaluated["result"]["map50"] <= 1

    progress.clear()
    predicted, _ = execute(ws, "wb_predict", delegated=True, progress=progress, model="op-run",
                           run="op-pool", embeddings=True)
    assert predicted["result"]["samples"] == 6 and progress[-1][0] == 1.0
    emb = predicted["result"]["embeddings_field"]
    assert emb and ws.samples.count_documents({emb: {"$exists": True}}) == 6

    shown, _ = execute(ws, "wb_visualize", delegated=True, run="op-pool", method="tsne")
    assert shown["result"]["brain_key"] == predicted["result"]["visualization"]
    assert shown["result"]["points"] == 6 and shown["result"]["method"] == "tsne"

    selected, _ = execute(ws, "wb_select", n=2, run="op-pool")
    assert selected["ok"] and ws.samples.count_documents({schema.STATUS: "queued"}) == 2

    exported, _ = execute(ws, "wb_export", delegated=True, run="op-run", target="onnx",
                          val_limit=4, out=str(tmp_path / "exports"))
    report = exported["result"]
    assert Path(report["path"]).is_file() and "cosine" in exported["summary"]
    assert report["export_id"] in exported["summary"]
    folder = str(Path(report["path"]).parent)
    benched, _ = execute(ws, "wb_benchmark", delegated=True, paths=[folder], limit=4)
    assert benched["ok"] and benched["result"]["models"]

    looped, _ = execute(ws, "wb_loop_next", delegated=True, budget=2, model="micro-relu",
                        imgsz=160, epochs=1, batch=8)
    assert looped["ok"] and looped["result"]["selected"] == 2
    assert Path(looped["result"]["package"]).is_file()


def test_simulate_operator(tmp_path: Path, mongo_uri: str) -> None:
    ws = covering_workspace(tmp_path, mongo_uri, 12, 6)
    try:
        progress: list[tuple[float, str]] = []
        out, _ = execute(ws, "wb_loop_simulate", delegated=True, progress=progress, rounds=2,
                         initial=4, budget=2, strategies=["entropy", "random"], seeds=1,
                         model="micro-relu", imgsz=96, epochs=1, batch=4)
        assert out["ok"] and set(out["result"]["strategies"]) == {"entropy", "random"}
        assert "| entropy |" in out["summary"] and "labels to match random" in out["summary"]
        assert progress and progress[-1][0] == 1.0
        assert (ws.root / "loop-simulation" / "summary.json").is_file()
    finally:
        ws.dataset.delete()
        ws.runs.delete_many({"dataset": ws.config.name})
