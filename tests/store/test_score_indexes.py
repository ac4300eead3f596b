"""The per-run score indexes stay within MongoDB's 64 indexes per collection: many prediction
runs on one workspace, eviction of orphaned then least recently used runs, re-creation when
selection needs an evicted index; on a real mongod, synthetic predictions (no model)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import demo_images
from workbench.core.types import Predictions
from workbench.errors import WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.prediction.imported import import_predictions
from workbench.selection.api import SelectConfig, image_scores, indexed_keys, select
from workbench.store import pool, predictions, runs, score_indexes
from workbench.store.runs import RunKind

CLASSES = ["fish", "shark", "penguin"]
N_POOL = 8


@pytest.fixture
def pool_ws(workspace: Any, tmp_path: Path) -> Iterator[tuple[Any, list[Any]]]:
    """A workspace whose pool holds :data:`N_POOL` demo images; their ids, sorted."""
    workspace.add_classes(CLASSES)
    src = tmp_path / "pool"
    src.mkdir()
    for p in demo_images(n=N_POOL):
        shutil.copy(p, src / p.name)
    ingest(workspace, src, "images")
    yield workspace, predictions.view_files(workspace, "pool")[0]
    score_indexes.forget(workspace)


def _preds(n: int, seed: int) -> Predictions:
    """Two boxes per image, distinct confidences and class vectors (no ties in any score)."""
    rng = np.random.default_rng(seed)
    m = 2 * n
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=m)
    xy = rng.uniform(0.0, 0.5, size=(m, 2))
    return Predictions(np.hstack([xy, xy + 0.3]), rng.uniform(0.05, 0.95, size=m),
                       probs.argmax(axis=1), np.repeat(np.arange(n), 2), probs)


def _run(ws: Any, run: str, ids: list[Any], preds: Predictions, tta: bool = False,
         list_unc: bool = True) -> dict[str, Any]:
    """Write a run as ``predict`` does and record it (``list_unc=False``: a record without
    its ``uncertainty_fields``, as ``predictions import`` leaves one)."""
    n = len(ids)
    spread = np.linspace(0.0, 1.0, n, dtype=np.float64)
    scores = image_scores(preds, n, tta=spread if tta else None)
    passes = (preds, np.zeros(len(preds), dtype=np.int64)) if tta else None
    written = predictions.write_predictions(ws, run, ids, preds, ws.classes, scores=scores,
                                            indexed=indexed_keys(scores), tta=passes)
    outputs = {"scores_field": written["scores_field"]}
    if list_unc:
        outputs["uncertainty_fields"] = list(written["uncertainty_fields"].values())
    runs.record_run(ws, RunKind.PREDICT, run, {}, outputs, dt.datetime.now(dt.UTC))
    return written


def _import(ws: Any, tmp_path: Path, run: str, seed: int) -> None:
    """``predictions import`` of one box per pool image."""
    rng = np.random.default_rng(seed)
    lines = [json.dumps({"filepath": fp, "detections": [
        {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": float(rng.uniform(0.1, 0.9)),
         "class_probs": rng.dirichlet(np.ones(len(CLASSES))).tolist()}]})
        for fp in predictions.view_files(ws, "pool")[1]]
    path = tmp_path / f"{run}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    import_predictions(ws, path, run)


def _own(info: dict[str, Any], run: str) -> set[str]:
    """Names of the workbench indexes of ``run`` in ``info`` (by exact owning field)."""
    scores = predictions.field_name("scores", run)
    unc = {predictions.uncertainty_field(run, k) for k in
           ("least_confidence", "margin", "entropy", "max_conf", "n_boxes", "tta_disagreement")}
    return {n for n, f in score_indexes.workbench_indexes(info).items() if f == scores or f in unc}


@pytest.mark.parametrize(("name", "key", "owner"), [
    ("wb_scores_a_entropy", [("status", 1), ("split", 1), ("scores_a.entropy", -1), ("_id", 1)],
     "scores_a"),
    ("wb_scores_a_b_entropy", [("status", 1), ("split", 1), ("scores_a_b.entropy", -1),
                               ("_id", 1)], "scores_a_b"),
    ("wb_unc_a_b_margin_desc", [("unc_a_b_margin", -1)], "unc_a_b_margin"),
    ("my_index", [("status", 1), ("split", 1), ("scores_a.entropy", -1), ("_id", 1)], None),
    ("unc_a_margin_-1", [("unc_a_margin", -1)], None),  # made by the App, not by workbench
    ("wb_unc_a_margin_desc", [("unc_a_margin", 1)], None),
    ("filepath_1", [("filepath", 1)], None),
    ("_id_", [("_id", 1)], None),
])
def test_index_field_names_the_owner_of_workbench_indexes_only(name: str, key: list[Any],
                                                               owner: str | None) -> None:
    assert score_indexes.index_field(name, key) == owner


@pytest.mark.integration
def test_many_runs_stay_within_the_budget_and_select_the_same_after_eviction(
        pool_ws: tuple[Any, list[Any]], tmp_path: Path) -> None:
    ws, ids = pool_ws
    first = ws.samples.index_information()
    own = set(first)  # FiftyOne's and the workspace schema's indexes
    assert not score_indexes.workbench_indexes(first)
    created: dict[str, int] = {}
    names = [f"r{k:02d}" for k in range(12)]
    for k, run in enumerate(names):
        before = set(ws.samples.index_information())
        if run in ("r04", "r09"):
            _import(ws, tmp_path, run, seed=k)
        else:
            _run(ws, run, ids, _preds(len(ids), seed=k), tta=run in ("r02", "r07"))
        info = ws.samples.index_information()
        assert score_indexes.TAGS_INDEX in info, run  # made with the first run's indexes
        created[run] = len(set(info) - before - {score_indexes.TAGS_INDEX})
        assert len(info) <= score_indexes.budget(), run
        assert own <= set(info), run  # FiftyOne's indexes survive
        assert len(_own(info, run)) == created[run], run  # the run's own set is whole
    # 3 compound + 5 unc_ indexes a run; 4 + 6 with TTA
    assert created == {run: 10 if run in ("r02", "r07") else 8 for run in names}
    info = ws.samples.index_information()
    assert not _own(info, "r00") and not _own(info, "r01")  # the oldest were evicted
    assert _own(info, "r11") and _own(info, "r10")
    # An identical run written now selects exactly as the evicted oldest one.
    _run(ws, "fresh", ids, _preds(len(ids), seed=0))
    assert not _own(ws.samples.index_information(), "r00")
    expected = image_scores(_preds(len(ids), seed=0), len(ids))
    for strategy, key in (("entropy", "entropy"), ("margin", "margin"),
                          ("least-confidence", "least_confidence")):
        old = select(ws, SelectConfig(n=N_POOL, strategy=strategy, run="r00", dry_run=True))
        new = select(ws, SelectConfig(n=N_POOL, strategy=strategy, run="fresh", dry_run=True))
        assert old.sample_ids == new.sample_ids and old.scores == new.scores, strategy
        assert (old.candidates, old.warnings) == (new.candidates, new.warnings) == (N_POOL, [])
        order = np.argsort(-expected[key], kind="stable")
        assert old.sample_ids == [str(ids[i]) for i in order], strategy
        assert old.scores == pytest.approx(expected[key][order].tolist())
        info = ws.samples.index_information()
        assert predictions.score_index_name("scores_r00", key) in info  # made again
        assert len(info) <= score_indexes.budget() and own <= set(info)
    # r00 and fresh were just used (in this order): they go last; the others by when they
    # were written, each run's unc_ indexes before its compound ones.
    info = ws.samples.index_information()
    evict = score_indexes.eviction_order(ws, info)
    assert set(evict) == set(score_indexes.workbench_indexes(info))
    run_of = {n: run for run in [*names, "fresh"] for n in _own(info, run)}
    sequence = list(dict.fromkeys(run_of[n] for n in evict))
    assert sequence == [r for r in names[1:] if _own(info, r)] + ["r00", "fresh"]
    for run in sequence:
        kinds = [n.startswith("wb_scores_") for n in evict if run_of[n] == run]
        assert kinds == sorted(kinds), run


@pytest.mark.integration
def test_orphans_go_first_and_names_that_prefix_each_other_are_never_confused(
        pool_ws: tuple[Any, list[Any]]) -> None:
    ws, ids = pool_ws
    for k, run in enumerate(("a", "a_b", "v_tta", "v_tta_rot")):
        _run(ws, run, ids, _preds(len(ids), seed=k), tta=run.startswith("v_"),
             list_unc=run != "a_b")  # a_b: its record lists no unc_ fields, like an import
    info = ws.samples.index_information()
    owner, _ = score_indexes.owners(ws, {d["scores_field"]: d for d in ws.db[
        score_indexes.LEDGER_COLLECTION].find({"dataset": ws.config.name})},
        set(score_indexes.workbench_indexes(info).values()))
    for run in ("a", "a_b", "v_tta", "v_tta_rot"):
        fields = {score_indexes.workbench_indexes(info)[n] for n in _own(info, run)}
        assert len(fields) == (7 if run.startswith("v_") else 6)
        assert {owner[f] for f in fields} == {predictions.field_name("scores", run)}, run
    # Without the ledger, a_b's unc_ fields are read from its stored scores' keys.
    ws.db[score_indexes.LEDGER_COLLECTION].delete_many({"dataset": ws.config.name})
    owner, _ = score_indexes.owners(ws, {}, set(score_indexes.workbench_indexes(info).values()))
    assert {owner.get(score_indexes.workbench_indexes(info)[n])
            for n in _own(info, "a_b")} == {"scores_a_b"}
    # Run a's and v_tta's records are deleted: exactly their indexes are orphans, first to go.
    runs.delete_run(ws, "a")
    runs.delete_run(ws, "v_tta")
    orphans = _own(info, "a") | _own(info, "v_tta")
    order = score_indexes.eviction_order(ws, info)
    assert set(order[:len(orphans)]) == orphans
    assert set(order) == set(score_indexes.workbench_indexes(info))
    assert set(score_indexes.eviction_order(ws, info, keep={"scores_a_b"})) \
        == set(order) - {n for n in _own(info, "a_b") if n.startswith("wb_scores_")}
    # Making room for exactly that many drops exactly them.
    needed = score_indexes.budget() - len(info) + len(orphans)
    dropped = score_indexes.make_room(ws, info, needed)
    assert set(dropped) == orphans
    left = ws.samples.index_information()
    for run in ("a_b", "v_tta_rot"):
        assert _own(left, run) == _own(info, run), run
    # Walks whose index is gone make it again (pool's own retry) and read the same.
    before = pool.top_scored(ws, "scores_a_b", "entropy", N_POOL)
    ws.samples.drop_index("wb_scores_a_b_entropy")
    assert pool.top_scored(ws, "scores_a_b", "entropy", N_POOL) == before
    ws.samples.drop_index("wb_scores_a_b_entropy")
    assert pool.count_scored(ws, "scores_a_b", "entropy") == N_POOL
    ws.samples.drop_index("wb_scores_a_b_entropy")
    assert pool.count_unscored(ws, "scores_a_b", "entropy") == 0
    assert "wb_scores_a_b_entropy" in ws.samples.index_information()


@pytest.mark.integration
def test_indexes_made_outside_workbench_are_never_dropped_and_a_full_collection_says_so(
        pool_ws: tuple[Any, list[Any]]) -> None:
    ws, ids = pool_ws
    _run(ws, "w1", ids, _preds(len(ids), seed=1))
    foreign = [f"mine_{k}" for k in range(score_indexes.MAX_INDEXES - 2
                                          - len(ws.samples.index_information()))]
    for name in foreign:
        ws.samples.create_index([(name, 1)], name=name)
    _run(ws, "w2", ids, _preds(len(ids), seed=2))  # fits in MongoDB's limit, not in the budget
    info = ws.samples.index_information()
    assert len(info) == score_indexes.MAX_INDEXES - 2
    assert set(foreign) <= set(info) and not _own(info, "w1") and len(_own(info, "w2")) == 8
    needed = score_indexes.MAX_INDEXES - (len(info) - 8) + 1
    with pytest.raises(WorkbenchError, match=f"cannot hold {needed} more indexes: MongoDB "
                                             "allows 64 and 54 would remain.*mine_0"):
        score_indexes.make_room(ws, info, needed)
    assert ws.samples.index_information() == info  # refused before dropping anything


def test_rolling_back_a_run_drops_its_indexes_only(pool_ws: tuple[Any, list[Any]]) -> None:
    """Undoing run ``a``'s fields (what recovery does) keeps every index of run ``a_b``."""
    import datetime as dt_

    from workbench.store import journal

    ws, ids = pool_ws
    _run(ws, "a", ids, _preds(len(ids), 1))
    _run(ws, "a_b", ids, _preds(len(ids), 2))
    before = ws.samples.index_information()
    kept, gone = _own(before, "a_b"), _own(before, "a")
    assert kept and gone
    fields = [predictions.field_name("scores", "a"),
              *(predictions.uncertainty_field("a", k) for k in ("least_confidence", "margin",
                                                                 "entropy", "max_conf",
                                                                 "n_boxes"))]
    r = journal.Recovery("op", "predict", 0, "host", dt_.datetime.now(dt_.UTC))
    journal._unset_fields(ws, "op", {"fields": fields}, r)
    after = set(ws.samples.index_information())
    assert kept <= after and not gone & after
