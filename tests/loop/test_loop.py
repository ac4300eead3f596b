"""loop --simulate (a tiny one: real training, oracle through the import path) and loop next."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, demo_images, make_yolo
from workbench.cli.main import build_app
from workbench.curation.splitting import split
from workbench.errors import ConfigError
from workbench.ingestion.ingest import ingest
from workbench.loop.api import NextConfig, SimConfig, StatusConfig, next_round, simulate, status
from workbench.store import runs, schema
from workbench.store.workspace import open_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MICRO = str(REPO / "configs" / "models" / "micro-relu.yaml")
#: a shipped 7-class checkpoint (the demo's classes), small enough for a CPU test
SEED_PT = REPO / "datasets" / "aquarium-mini" / "weights" / "micro-relu-224.pt"


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
        assert points[1]["labeled_boxes"] >= points[0]["labeled_boxes"]
        assert [p["pool_left"] for p in points] == [24 - 6, 24 - 12]
    # the same initial set for every strategy of a seed
    assert curves["entropy"]["0"][0]["labeled_boxes"] == curves["random"]["0"][0]["labeled_boxes"]
    assert (out / "learning_curves.png").stat().st_size > 10_000
    for key in ("label_saving", "label_saving_boxes"):
        assert set(summary["strategies"]["entropy"][key]) >= {"mean", "std", "fractions"}
    assert summary["strategies"]["random"]["final_labeled_boxes_mean"] == \
        curves["random"]["0"][-1]["labeled_boxes"]
    assert any("round 2/2 · random · seed 1/1" in s for s in seen)

    sim = open_workspace(out / "work" / "entropy-s0")
    # the oracle labels only what was selected, through the import path
    assert sim.samples.count_documents({schema.STATUS: "labeled", schema.SPLIT: "train"}) == 12
    hidden = sim.samples.count_documents({schema.SPLIT: "pool", schema.STATUS: "unlabeled",
                                          schema.GROUND_TRUTH: None})
    assert hidden == 24 - 12
    assert len(runs.list_runs(sim, "annotate-import")) == 2
    assert sim.samples.count_documents({schema.SPLIT: "val", schema.STATUS: "labeled"}) == 8

    # resume: a lost last point is recomputed from the store, nothing is retrained, and the
    # points recounted are the ones first written (counted by round, not by today's labels)
    trained = len(runs.list_runs(sim, "train"))
    (out / "curves.json").write_text(json.dumps(
        {**curves, "entropy": {"0": curves["entropy"]["0"][:1]}}))
    again = simulate(src, _cfg(), out).to_dict()
    assert again["strategies"] == summary["strategies"]
    assert json.loads((out / "curves.json").read_text()) == curves
    assert len(runs.list_runs(sim, "train")) == trained
    # a curves.json of an older workbench (no labeled_boxes) is recounted from the store
    old = {s: {k: [{f: v for f, v in p.items() if f != "labeled_boxes"} for p in pts]
               for k, pts in by_seed.items()} for s, by_seed in curves.items()}
    (out / "curves.json").write_text(json.dumps(old))
    assert simulate(src, _cfg(), out).to_dict()["strategies"] == summary["strategies"]
    assert json.loads((out / "curves.json").read_text()) == curves
    assert len(runs.list_runs(sim, "train")) == trained

    with pytest.raises(ConfigError, match="other settings"):
        simulate(src, _cfg(budget=5), out)
    with pytest.raises(ConfigError, match="must include random"):
        _cfg(strategies=("entropy",))
    with pytest.raises(ConfigError, match="need 106"):
        simulate(src, _cfg(initial=100), tmp_path / "other")
    assert not (tmp_path / "other").exists()  # a refused start leaves nothing behind


def test_simulation_from_a_local_checkpoint_on_the_cli(workspace: Any, tmp_path: Path) -> None:
    """``loop --simulate --model X.pt``: every round fine-tunes the checkpoint; labeled boxes are
    recorded per round (growing with the images) and both savings are reported."""
    src = _labeled(workspace, tmp_path, train=12, val=6)
    out = tmp_path / "sim"
    args = ["loop", "--simulate", "--model", str(SEED_PT), "--rounds", "2", "--initial", "4",
            "--budget", "2", "--seeds", "1", "--epochs", "1", "--imgsz", "64", "--batch", "4",
            "--strategies", "entropy,random", "--out", str(out), "-w", str(src.root)]
    result = CliRunner().invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["settings"]["model"] == str(SEED_PT)
    curves = json.loads((out / "curves.json").read_text())
    for strategy in ("entropy", "random"):
        points = curves[strategy]["0"]
        assert [p["labeled_images"] for p in points] == [4, 6]
        assert 0 < points[0]["labeled_boxes"] <= points[1]["labeled_boxes"]
        sim = open_workspace(out / "work" / f"{strategy}-s0")
        assert sim.samples.count_documents({schema.STATUS: "labeled", schema.SPLIT: "train"}) == 6
        for doc in runs.list_runs(sim, "train"):
            assert doc["params"]["model"] == str(SEED_PT)
    row = summary["strategies"]["entropy"]
    assert {"label_saving", "label_saving_boxes", "final_labeled_boxes_mean"} <= set(row)
    assert row["final_labeled_boxes_mean"] == curves["entropy"]["0"][-1]["labeled_boxes"]
    # the table, from the finished simulation (nothing is retrained): both savings
    table = CliRunner().invoke(build_app(), args, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for column in ("labels to match random (images)", "labels to match random (boxes)"):
        assert column in table.stdout

    with pytest.raises(ConfigError, match="not found"):
        simulate(src, _cfg(model=str(tmp_path / "missing.pt")), tmp_path / "other")
    assert not (tmp_path / "other").exists()


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
