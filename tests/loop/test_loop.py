"""loop --simulate (a tiny one: real training, oracle through the import path) and loop next."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, demo_images, make_yolo
from workbench.curation.splitting import split
from workbench.errors import ConfigError
from workbench.ingestion.ingest import ingest
from workbench.loop.api import NextConfig, SimConfig, StatusConfig, next_round, simulate, status
from workbench.store import runs, schema
from workbench.store.workspace import open_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MICRO = str(REPO / "configs" / "models" / "micro-relu.yaml")


def _labeled(ws: Any, tmp_path: Path, train: int = 24, val: int = 8) -> Any:
    root = make_yolo(tmp_path / "data", {"train": demo_images("train", train),
                                         "val": demo_images("train", train + val)[train:]})
    ingest(ws, root, "yolo")
    split(ws)
    return ws


def _cfg(**kw: Any) -> SimConfig:
    base = {"rounds": 2, "initial": 6, "budget": 6, "seeds": 1, "model": MICRO, "imgsz": 96,
            "epochs": 1, "batch": 8, "strategies": ("entropy", "random")}
    return SimConfig(**{**base, **kw})


def test_simulation_curves_oracle_and_resume(workspace: Any, tmp_path: Path) -> None:
    src = _labeled(workspace, tmp_path)
    out = tmp_path / "sim"
    seen: list[str] = []
    summary = simulate(src, _cfg(), out,
                       progress=lambda d, t, text: seen.append(text)).to_dict()
    curves = json.loads((out / "curves.json").read_text())
    assert set(curves) == {"entropy", "random"}
    for strategy in curves:
        points = curves[strategy]["0"]
        assert [p["labeled_images"] for p in points] == [6, 12]
        assert all(0.0 <= p["map50"] <= 1.0 and p["labeled_boxes"] > 0 for p in points)
    # the same initial set for every strategy of a seed
    assert curves["entropy"]["0"][0]["labeled_boxes"] == curves["random"]["0"][0]["labeled_boxes"]
    assert (out / "learning_curves.png").stat().st_size > 10_000
    assert set(summary["strategies"]["entropy"]["label_saving"]) >= {"mean", "std", "fractions"}
    assert any("round 2/2 · random · seed 1/1" in s for s in seen)

    sim = open_workspace(out / "work" / "entropy-s0")
    # the oracle labels only what was selected, through the import path
    assert sim.samples.count_documents({schema.STATUS: "labeled", schema.SPLIT: "train"}) == 12
    hidden = sim.samples.count_documents({schema.SPLIT: "pool", schema.STATUS: "unlabeled",
                                          schema.GROUND_TRUTH: None})
    assert hidden == 24 - 12
    assert len(runs.list_runs(sim, "annotate-import")) == 2
    assert sim.samples.count_documents({schema.SPLIT: "val", schema.STATUS: "labeled"}) == 8

    # resume: a lost last point is recomputed from the store, nothing is retrained
    trained = len(runs.list_runs(sim, "train"))
    curves["entropy"]["0"] = curves["entropy"]["0"][:1]
    (out / "curves.json").write_text(json.dumps(curves))
    again = simulate(src, _cfg(), out).to_dict()
    assert again["strategies"] == summary["strategies"]
    assert len(runs.list_runs(sim, "train")) == trained

    with pytest.raises(ConfigError, match="other settings"):
        simulate(src, _cfg(budget=5), out)
    with pytest.raises(ConfigError, match="must include random"):
        _cfg(strategies=("entropy",))
    with pytest.raises(ConfigError, match="need 106"):
        simulate(src, _cfg(initial=100), tmp_path / "other")
    assert not (tmp_path / "other").exists()  # a refused start leaves nothing behind


def test_next_round_reuses_the_model_of_unchanged_labels(workspace: Any, tmp_path: Path) -> None:
    ws = _labeled(workspace, tmp_path, train=12, val=6)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("train", 30)[18:]:
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    cfg = NextConfig(budget=4, model=MICRO, imgsz=96, epochs=1, batch=8,
                     allow_missing_classes=True)
    first = next_round(ws, cfg).to_dict()
    assert not first["model_reused"] and first["selected"] == 4
    assert Path(first["package"]).is_file() and "annotate import" in first["next"]
    second = next_round(ws, cfg).to_dict()
    assert second["model_reused"] and second["model_run"] == first["model_run"]
    assert second["round"] != first["round"]
    shown = status(ws, StatusConfig(plot=tmp_path / "status.png")).to_dict()
    assert [r["round"] for r in shown["rounds"]] == [first["round"], second["round"]]
    assert shown["rounds"][0]["status"] == {"in_annotation": 4}
    assert shown["rounds"][0]["model_run"] == first["model_run"]
    assert (tmp_path / "status.png").is_file() and len(shown["trainings"]) == 1
