"""``workbench mine`` on real demo images, a real detector and the real mongod.

One module-scoped workspace: 24 labeled train + 12 val images covering every class, 10
unlabeled pool images, and 8 negatives (demo images with every box painted out) ingested with
``--negatives``; one run fine-tuned for an epoch from the shipped ``yolov8n-224.pt``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from benchmarks._negatives import make_negatives
from tests.conftest import DEMO, demo_images
from tests.test_cli_e2e import wb
from tests.training.conftest import covering_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEIGHTS = DEMO / "weights" / "yolov8n-224.pt"
FP_CONF = 0.1


@pytest.fixture(scope="module")
def mined_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Any:
    """The workspace described above, with its trained run."""
    from workbench.ingestion.ingest import ingest
    from workbench.training.api import TrainConfig, train

    root = tmp_path_factory.mktemp("mine")
    ws = covering_workspace(root, mongo_uri, 24, 12)
    pool = root / "pool"
    pool.mkdir()
    for img in demo_images("test", 10):
        (pool / img.name).symlink_to(img)
    ingest(ws, pool, "images", source="pool")
    make_negatives(DEMO / "train" / "images", DEMO / "train" / "labels", root / "neg", 8,
                   seed=3)
    ingest(ws, root / "neg", "images", source="neg", negatives=True)
    run = f"base-{uuid.uuid4().hex[:6]}"
    train(ws, TrainConfig(model=str(WEIGHTS), imgsz=160, epochs=1, batch=8, run=run,
                          workers=0, patience=0))
    yield ws, run
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})


def _config(run: str, **kw: Any) -> Any:
    from workbench.mining.api import MineConfig

    return MineConfig(run=run, fp_conf=FP_CONF, **kw)


def test_negatives_are_pooled_tagged_and_never_offered(mined_ws: Any) -> None:
    from workbench.store import pool, schema

    ws, _ = mined_ws
    negatives = list(ws.samples.find({"tags": schema.NEGATIVE_TAG}))
    assert len(negatives) == 8
    assert {(d["status"], d["split"]) for d in negatives} == {("unlabeled", "pool")}
    offered = set(pool.candidate_ids(ws))
    assert len(offered) == 10 and not offered & {d["_id"] for d in negatives}


def test_mine_counts_match_the_saved_views(mined_ws: Any) -> None:
    from workbench.mining.api import mine
    from workbench.store import app_views

    ws, run = mined_ws
    result = mine(ws, _config(run))
    from workbench.store.mining import mined_view_names
    from workbench.store.predictions import field_name

    assert result.images == 12
    assert result.views == list(mined_view_names(run).values())
    assert result.false_positives > 0, "a 1-epoch detector at conf 0.1 must have some"
    ds = ws.dataset
    fp_view, conf_view, miss_view = (ds.load_saved_view(v) for v in result.views)
    pred_field = field_name("pred", run)
    assert fp_view.count(f"{pred_field}.detections") == result.false_positives
    assert conf_view.count(f"{pred_field}.detections") == result.confusions
    assert miss_view.count("ground_truth.detections") == result.misses
    per = result.per_class
    assert sum(r["false_positives"] for r in per.values()) == result.false_positives
    assert sum(r["misses"] for r in per.values()) == result.misses
    assert sum(r["ground_truth"] for r in per.values()) == \
        ds.match({"split": "val"}).count("ground_truth.detections")
    assert sum(p["count"] for p in result.confusion_pairs) == result.confusions
    for row in per.values():
        if row["ground_truth"]:
            assert 0.0 <= row["recall"] <= 1.0
    assert set(result.views) <= set(app_views.list_work_views(ws))
    assert result.fp_per_image == pytest.approx(result.false_positives / 12, abs=1e-6)
    assert 0.0 <= result.precision < 1.0


def test_negatives_label_the_firing_ones_and_undo_restores(mined_ws: Any) -> None:
    from workbench.annotation.api import UndoConfig, undo_import
    from workbench.mining.api import mine
    from workbench.store import schema

    ws, run = mined_ws
    before = {d["_id"]: (d["status"], d["split"], d.get("ground_truth"))
              for d in ws.samples.find({"tags": schema.NEGATIVE_TAG})}
    result = mine(ws, _config(run, negatives="tag:negative", per_iteration=3))
    neg = result.negatives
    assert neg["checked"] == 8 and 0 < neg["labeled"] <= 3, neg
    assert neg["labeled"] == min(3, neg["firing"])
    labeled = list(ws.samples.find({"tags": schema.NEGATIVE_TAG, "status": "labeled"}))
    assert len(labeled) == neg["labeled"]
    assert all(d["split"] == "train" and d["ground_truth"]["detections"] == [] for d in labeled)
    undo_import(ws, UndoConfig(neg["import_id"]))
    after = {d["_id"]: (d["status"], d["split"], d.get("ground_truth"))
             for d in ws.samples.find({"tags": schema.NEGATIVE_TAG})}
    assert after == before


def test_random_baseline_draws_as_many(mined_ws: Any) -> None:
    from workbench.annotation.api import UndoConfig, undo_import
    from workbench.mining.api import mine

    ws, run = mined_ws
    result = mine(ws, _config(run, negatives="tag:negative", per_iteration=5, choose="random",
                              seed=1))
    assert result.negatives["labeled"] == 5
    undo_import(ws, UndoConfig(result.negatives["import_id"]))
    result = mine(ws, _config(run, negatives="tag:negative", per_pass=[4], choose="random",
                              seed=2))
    assert result.negatives["labeled"] == 4
    undo_import(ws, UndoConfig(result.negatives["import_id"]))


def test_similar_queues_a_round_of_pool_images(mined_ws: Any) -> None:
    from workbench.mining.api import mine
    from workbench.store import schema

    ws, run = mined_ws
    name = f"mine-{uuid.uuid4().hex[:6]}"
    result = mine(ws, _config(run, similar=2, round=name))
    sim = result.similar
    assert sim["crops"] > 0 and 0 < sim["queued"] <= min(10, 2 * sim["crops"])
    queued = list(ws.samples.find({schema.ROUND_SELECTED: name}))
    assert len(queued) == sim["queued"]
    assert {d["status"] for d in queued} == {"queued"}
    assert not any(schema.NEGATIVE_TAG in d["tags"] for d in queued)
    doc = ws.runs.find_one({"_id": name})
    assert doc["kind"] == "select" and doc["params"]["strategy"] == "hand-picked"


def test_iterations_retrain_and_report_every_pass(mined_ws: Any) -> None:
    from workbench.mining.api import mine

    ws, run = mined_ws
    result = mine(ws, _config(run, negatives="tag:negative", per_iteration=2, iterations=1,
                              epochs=1, imgsz=160, batch=8, critical=["fish"]))
    rows = result.iterations
    assert [r["iteration"] for r in rows] == [0, 1]
    assert rows[0]["run"] == run and rows[1]["run"] == result.run != run
    assert set(rows[0]["recall"]) == {"fish"}
    assert all(0.0 <= r["precision"] <= 1.0 for r in rows)
    assert rows[1]["negatives_added"] == 0 and rows[0]["negatives_added"] <= 2
    assert Path(result.plot).is_file() and Path(result.report).is_file()
    report = json.loads(Path(result.report).read_text())
    assert {"run", "false_positives", "misses", "confusions", "per_class", "views",
            "iterations"} <= set(report)
    train_doc = ws.runs.find_one({"_id": rows[1]["run"]})
    assert train_doc["params"]["model"].endswith("best.pt")


def test_bad_input_is_refused_without_a_traceback(mined_ws: Any, tmp_path: Path) -> None:
    ws, run = mined_ws
    cases = [
        (["--run", "no-such-run"], "no training run named"),
        (["--run", run, "--view", "nonsense:x"], "invalid view"),
        (["--run", run, "--negatives", "tag:nothing-here"], "holds no image"),
        (["--run", run, "--choose", "random"], "--negatives"),
        (["--run", run, "--critical", "whale"], "whale"),
        (["--run", run, "--iterations", "2"], "--negatives"),
    ]
    for args, message in cases:
        proc = wb("mine", *args, "-w", str(ws.root), check=False)
        assert proc.returncode != 0, args
        assert message in proc.stderr + proc.stdout, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr


def test_cli_json(mined_ws: Any) -> None:
    ws, run = mined_ws
    proc = wb("mine", "--run", run, "--fp-conf", str(FP_CONF), "-w", str(ws.root), "--json")
    data = json.loads(proc.stdout)
    assert {"run", "false_positives", "misses", "confusions", "per_class", "views"} <= set(data)
    assert data["run"] == run


def _release_rounds(ws: Any) -> None:
    """Put every queued image back in the pool (the small pool is queued whole by a test)."""
    from workbench.store import pool

    for queued in ws.samples.distinct("round_selected", {"status": "queued"}):
        pool.release(ws, queued)


def test_app_operator_runs_scheduled_and_opens_the_round(mined_ws: Any) -> None:
    from tests.ui.plugin_ctx import execute, operator

    ws, run = mined_ws
    _release_rounds(ws)
    name = f"op-{uuid.uuid4().hex[:6]}"
    progress: list[tuple[float, str]] = []
    out, requests = execute(ws, "wb_mine", delegated=True, progress=progress, run=run,
                            fp_conf=FP_CONF, similar=1, round=name)
    assert progress and progress[-1][0] == pytest.approx(1.0)
    assert "false_positives" in json.dumps(out) or "false positives" in json.dumps(out)
    assert ws.samples.count_documents({"round_selected": name}) > 0
    assert operator("wb_mine").spec.long
    _release_rounds(ws)
    now = f"op-{uuid.uuid4().hex[:6]}"  # run at once in the App: opens the round it queued
    out, requests = execute(ws, "wb_mine", run=run, fp_conf=FP_CONF, similar=1, round=now)
    assert out["ok"] and out["result"]["similar"]["queued"] > 0, out
    assert "set_view" in {r["operator_uri"].rsplit("/", 1)[-1] for r in requests}, requests
