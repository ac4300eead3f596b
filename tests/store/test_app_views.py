"""Saved work views (queue, pool by uncertainty, evaluation errors, uncertain band) on a real
mongod, made by select and evaluate."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO, demo_images, make_yolo
from workbench.ingestion.ingest import ingest
from workbench.prediction.imported import import_predictions
from workbench.selection.api import SelectConfig, select
from workbench.store import app_views, runs

pytestmark = pytest.mark.integration
CLASSES = ["fish", "shark", "penguin"]
CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"

#: Per pool image: (confidence, class probabilities) of its boxes.
BOXES = [[(0.9, [0.98, 0.01, 0.01])],
         [(0.45, [0.4, 0.35, 0.25]), (0.05, [0.9, 0.05, 0.05])],
         [(0.3, [0.34, 0.33, 0.33])],
         [(0.6, [0.1, 0.8, 0.1])],
         [(0.2, [0.6, 0.3, 0.1])],
         [(0.7, [0.5, 0.45, 0.05])]]


def _predicted_pool(ws: Any, tmp_path: Path) -> list[str]:
    ws.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=len(BOXES)):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    fps = sorted(ws.dataset.values("filepath"))
    lines = [json.dumps({"filepath": fp, "detections": [
        {"label": CLASSES[k % 3], "box": [0.1, 0.1, 0.2, 0.2], "confidence": c,
         "class_probs": probs} for k, (c, probs) in enumerate(boxes)]})
        for fp, boxes in zip(fps, BOXES, strict=True)]
    (tmp_path / "preds.jsonl").write_text("\n".join(lines) + "\n")
    import_predictions(ws, tmp_path / "preds.jsonl", "p1")
    return fps


def _view_docs(ws: Any) -> dict[str, dict[str, Any]]:
    ids = ws.dataset_document({"saved_views": 1}).get("saved_views") or []
    return {d["name"]: d for d in ws.db["views"].find({"_id": {"$in": ids}})}


def test_select_saves_the_work_views(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _predicted_pool(workspace, tmp_path)
    ds = workspace.dataset
    ds.save_view("my-fish", ds.match({"filepath": fps[0]}), description="mine")
    # the predictions import saved the band of its boxes; no round yet: no queue
    assert app_views.list_work_views(workspace) == ["uncertain-band"]
    res = select(workspace, SelectConfig(n=2, strategy="entropy", round="r1"))
    assert app_views.list_work_views(workspace) == ["queue", "pool-by-uncertainty",
                                                    "uncertain-band"]
    assert set(ds.load_saved_view("queue").values("id")) == set(res.sample_ids)
    pool_view = ds.load_saved_view("pool-by-uncertainty")
    entropy = pool_view.values("scores_p1.entropy")
    assert len(pool_view) == len(BOXES) - 2 and entropy == sorted(entropy, reverse=True)
    assert not set(pool_view.values("id")) & set(res.sample_ids)
    band = ds.load_saved_view("uncertain-band")
    confs = [c for per in band.values("pred_p1.detections.confidence") for c in per]
    expected = [c for boxes in BOXES for c, _ in boxes if 0.1 <= c <= 0.5]
    assert sorted(confs) == sorted(expected) and len(band) == 3
    assert all(d["description"].endswith(app_views.MARK) for name, d in
               _view_docs(workspace).items() if name != "my-fish")
    assert ds.get_saved_view_info("my-fish")["description"] == "mine"

    # Nothing changed: nothing rewritten. A new round: the queue follows it.
    before = {n: d["last_modified_at"] for n, d in _view_docs(workspace).items()}
    assert app_views.save_work_views(workspace) == app_views.list_work_views(workspace)
    assert {n: d["last_modified_at"] for n, d in _view_docs(workspace).items()} == before
    r2 = select(workspace, SelectConfig(n=1, strategy="random", round="r2", conf_band=None))
    assert ds.load_saved_view("queue").values("id") == r2.sample_ids
    assert "selection 'r1'" in ds.get_saved_view_info("pool-by-uncertainty")["description"]
    r3 = select(workspace, SelectConfig(n=1, conf_band=(0.25, 0.5), round="r3"))
    band = ds.load_saved_view("uncertain-band")
    assert "'r3'" in ds.get_saved_view_info("uncertain-band")["description"]
    assert sorted(c for per in band.values("pred_p1.detections.confidence") for c in per) == \
        [0.3, 0.45]
    assert len(ds.load_saved_view("pool-by-uncertainty")) == len(BOXES) - 4
    assert ds.load_saved_view("queue").values("id") == r3.sample_ids

    # Rounds gone: their views are stale and deleted; the user's views stay.
    workspace.runs.delete_many({"dataset": workspace.config.name, "kind": "select"})
    assert app_views.save_work_views(workspace) == ["uncertain-band"]
    assert sorted(ds.list_saved_views()) == ["my-fish", "uncertain-band"]


def test_user_views_keep_their_names(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _predicted_pool(workspace, tmp_path)
    ds = workspace.dataset
    ds.save_view("Queue", ds.match({"filepath": fps[1]}))  # same slug as the work view
    ds.delete_saved_view("uncertain-band")  # the predictions import saved ours; a user's
    ds.save_view("uncertain-band", ds.limit(1), description="my band")  # takes the name
    select(workspace, SelectConfig(n=2, round="r1"))
    assert sorted(ds.list_saved_views()) == ["Queue", "pool-by-uncertainty", "uncertain-band"]
    assert ds.load_saved_view("Queue").values("filepath") == [fps[1]]
    assert ds.get_saved_view_info("uncertain-band")["description"] == "my band"
    assert len(ds.load_saved_view("uncertain-band")) == 1
    # A work view the user renamed becomes theirs.
    ds.update_saved_view_info("pool-by-uncertainty", {"name": "my-pool"})
    assert app_views.save_work_views(workspace) == ["pool-by-uncertainty"]
    assert sorted(ds.list_saved_views()) == ["Queue", "my-pool", "pool-by-uncertainty",
                                             "uncertain-band"]


def test_dry_run_and_random_save_no_score_view(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _predicted_pool(workspace, tmp_path)
    select(workspace, SelectConfig(n=2, round="r1", dry_run=True))
    assert app_views.list_work_views(workspace) == ["uncertain-band"]  # from the import
    select(workspace, SelectConfig(n=2, strategy="random", round="r1"))
    assert runs.get_run(workspace, "r1")["outputs"]["score_key"] is None  # type: ignore[index]
    assert app_views.list_work_views(workspace) == ["queue", "uncertain-band"]


@pytest.mark.slow
def test_evaluate_saves_error_views(tmp_path: Path, mongo_uri: str) -> None:
    from workbench.store.workspace import init_workspace
    from workbench.training.evaluation import EvalConfig, run_evaluation

    images = sorted((DEMO / "valid" / "images").glob("*.jpg"))[:8]
    data = make_yolo(tmp_path / "data", {"val": images})
    ws = init_workspace(tmp_path / "ws", name=f"t-{uuid.uuid4().hex[:10]}",
                        database_uri=mongo_uri)
    try:
        ingest(ws, data, "yolo")
        # The weak checkpoint's boxes are all below the default deploy threshold (0.25).
        rep = run_evaluation(ws, EvalConfig(model=str(CHECKPOINT), split="val",
                                            deploy_conf=0.05))
        assert app_views.list_work_views(ws) == ["eval-false-positives", "eval-misses"]
        ds = ws.dataset
        key, thr = rep.eval_key, rep.conf_threshold
        per_sample = ds.values([f"{rep.pred_field}.detections.{key}",
                                f"{rep.pred_field}.detections.confidence",
                                f"ground_truth.detections.{key}"])
        fp = [(e, c) for es, cs in zip(per_sample[0], per_sample[1], strict=True)
              for e, c in zip(es or [], cs or [], strict=True) if e == "fp" and c >= thr]
        fn = [e for es in per_sample[2] for e in es or [] if e == "fn"]
        assert fp and fn, "the checkpoint makes mistakes above 0.05 on 8 images"
        assert fp and fn
        fp_view = ds.load_saved_view("eval-false-positives")
        assert fp_view.count(f"{rep.pred_field}.detections") == len(fp)
        assert set(fp_view.distinct(f"{rep.pred_field}.detections.{key}")) == {"fp"}
        assert len(fp_view) == sum(1 for es, cs in zip(per_sample[0], per_sample[1], strict=True)
                                   if any(e == "fp" and c >= thr
                                          for e, c in zip(es or [], cs or [], strict=True)))
        misses = ds.load_saved_view("eval-misses")
        assert misses.count("ground_truth.detections") == len(fn)
        assert len(misses) == sum(1 for es in per_sample[2] if "fn" in (es or []))
    finally:
        ws.dataset.delete()
        ws.runs.delete_many({"dataset": ws.config.name})


def test_pool_sorts_by_the_top_level_uncertainty_field(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.store import schema

    _predicted_pool(workspace, tmp_path)
    select(workspace, SelectConfig(n=1, round="r1"))
    unc = "unc_p1_entropy"
    schema.ensure_fields(workspace, {unc: "float"})
    ds = workspace.dataset
    ids = ds.values("id")
    ranks = {i: float(k) for k, i in enumerate(ids)}  # not the entropy order
    ds.set_values(unc, ranks, key_field="id")
    assert app_views.save_work_views(workspace)[1] == "pool-by-uncertainty"
    assert unc in ds.get_saved_view_info("pool-by-uncertainty")["description"]
    view = ds.load_saved_view("pool-by-uncertainty")
    assert view.values("id") == [i for i in reversed(ids) if i in set(view.values("id"))]
    assert len(view) == len(BOXES) - 1
