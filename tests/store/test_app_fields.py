"""What the App reads of a prediction run: unc_ float fields, the show_ display copy, the
colour scheme and active fields; on a real mongod, from synthetic predictions (no model)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import demo_images
from workbench.core.types import Predictions
from workbench.ingestion.ingest import ingest
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import app_config, journal, lock, predictions, runs, schema
from workbench.store.runs import RunKind

pytestmark = pytest.mark.integration
CLASSES = ["fish", "shark", "penguin"]


def _pool(ws: Any, tmp_path: Path, n: int) -> list[Any]:
    """``n`` demo images ingested as the unlabeled pool; their ids, sorted."""
    ws.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=n):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    return predictions.view_files(ws, "pool")[0]


def _preds(n: int, per_image: int, seed: int = 0) -> Predictions:
    """``per_image`` boxes on each of ``n`` images with spread confidences and class vectors."""
    rng = np.random.default_rng(seed)
    m = n * per_image
    probs = rng.dirichlet(np.ones(len(CLASSES)) * 0.5, size=m)
    conf = rng.uniform(0.01, 0.9, size=m)
    xy = rng.uniform(0.0, 0.5, size=(m, 2))
    return Predictions(np.hstack([xy, xy + 0.3]), conf, probs.argmax(axis=1),
                       np.repeat(np.arange(n), per_image), probs)


def _write(ws: Any, run: str, ids: list[Any], preds: Predictions,
           display_conf: float | None = None) -> dict[str, Any]:
    scores = image_scores(preds, len(ids))
    return predictions.write_predictions(ws, run, ids, preds, ws.classes, scores=scores,
                                         indexed=indexed_keys(scores), display_conf=display_conf)


def test_uncertainty_fields_are_indexed_floats_equal_to_the_scores(workspace, tmp_path: Path
                                                                   ) -> None:  # type: ignore[no-untyped-def]
    ids = _pool(workspace, tmp_path, 8)
    preds = _preds(len(ids) - 1, 3)  # the last image has no boxes
    written = _write(workspace, "run-1.a", ids, preds)
    unc = written["uncertainty_fields"]
    scores = image_scores(preds, len(ids))
    assert list(unc) == list(scores)
    assert unc["entropy"] == predictions.uncertainty_field("run-1.a", "entropy") \
        == "unc_run_1_a_entropy"
    types = schema.field_types(workspace)
    indexes = {info["key"][0][0]: (name, info["key"])
               for name, info in workspace.samples.index_information().items()
               if len(info["key"]) == 1}
    ds = workspace.dataset
    ds.reload()
    for key, field in unc.items():
        assert types[field] == "FloatField", field
        assert indexes[field] == (predictions.uncertainty_index_name(field), [(field, -1)])
        by_id = dict(zip(ds.values("_id"), ds.values(field), strict=True))
        from_dict = dict(zip(ds.values("_id"), ds.values(f"scores_run_1_a.{key}"), strict=True))
        assert by_id == from_dict
        np.testing.assert_allclose([by_id[i] for i in ids], scores[key])
        assert all(isinstance(v, float) for v in by_id.values())
    # Sorting by an unc_ field walks its index and gives the scores in descending order.
    field = unc["entropy"]
    top = list(workspace.samples.find({}, {field: 1}).sort(field, -1).limit(3))
    explain = workspace.samples.find({}, {field: 1}).sort(field, -1).explain()
    assert predictions.uncertainty_index_name(field) in str(explain["queryPlanner"])
    assert [d[field] for d in top] == sorted(scores["entropy"].tolist(), reverse=True)[:3]
    assert ds.sort_by(field, reverse=True).values(field)[:3] == [d[field] for d in top]
    assert len(ds.match({field: {"$gte": 0.5}})) == int((scores["entropy"] >= 0.5).sum())


def test_show_field_holds_exactly_the_boxes_at_or_above_the_display_threshold(
        workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _pool(workspace, tmp_path, 6)
    preds = _preds(len(ids) - 1, 6, seed=1)
    show = _write(workspace, "p", ids, preds, display_conf=0.25)["display_field"]
    assert show == "show_p"
    assert _write(workspace, "q", ids, preds)["display_field"] is None
    assert "show_q" not in schema.field_types(workspace)
    assert schema.field_types(workspace)[show] == "Detections"
    docs = {d["_id"]: d for d in workspace.samples.find({}, {"pred_p": 1, "show_p": 1})}
    for i, sid in enumerate(ids):
        want = preds.image_index == i
        expected = sorted(preds.confidence[want & (preds.confidence >= 0.25)].tolist())
        shown = docs[sid]["show_p"]
        assert shown["_cls"] == "Detections"
        assert sorted(d["confidence"] for d in shown["detections"]) == expected
        kept = {d["_id"] for d in docs[sid]["pred_p"]["detections"] if d["confidence"] >= 0.25}
        assert {d["_id"] for d in shown["detections"]} == kept  # the same boxes, not copies
    assert 0 < sum(len(d["show_p"]["detections"]) for d in docs.values()) < len(preds)
    ds = workspace.dataset
    ds.reload()
    assert ds.count("show_p.detections") == int((preds.confidence >= 0.25).sum())
    # A rewrite at a higher threshold rewrites the copy; pred_p keeps every box.
    _write(workspace, "p", ids, preds, display_conf=0.8)
    ds.reload()
    assert ds.count("show_p.detections") == int((preds.confidence >= 0.8).sum())
    assert ds.count("pred_p.detections") == len(preds)


def test_a_rolled_back_write_removes_unc_and_show_fields_and_their_indexes(
        workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _pool(workspace, tmp_path, 4)
    preds = _preds(len(ids), 2)
    with pytest.raises(RuntimeError, match="boom"), lock.hold(workspace, "test"):
        written = _write(workspace, "gone", ids, preds, display_conf=0.25)
        raise RuntimeError("boom")
    for field in [*written["uncertainty_fields"].values(), "show_gone", "pred_gone"]:
        assert workspace.samples.find_one({field: {"$exists": True}}) is None, field
    names = list(workspace.samples.index_information())
    assert not [n for n in names if "unc_gone" in n], names
    assert journal.pending(workspace) == []


def test_app_config_colours_each_label_field_and_shows_the_newest_display_field(
        workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _pool(workspace, tmp_path, 4)
    import datetime as dt

    for k, run in enumerate(("older", "newer")):
        _write(workspace, run, ids, _preds(len(ids), 2, seed=k), display_conf=0.25)
        runs.record_run(workspace, RunKind.PREDICT, run, {}, {},
                        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=k))
    app_config.refresh_app_config(workspace)
    ds = workspace.dataset
    ds.reload()
    scheme = ds.app_config.color_scheme
    assert scheme.color_by == "field"
    colors = {f["path"]: f["fieldColor"] for f in scheme.fields}
    assert set(colors) == {"ground_truth", "pred_older", "show_older", "pred_newer", "show_newer"}
    assert len(set(colors.values())) == len(colors)  # distinct
    assert colors["ground_truth"] == app_config.GROUND_TRUTH_COLOR
    for c in colors.values():  # bright: a channel near full and no dark colour
        rgb = [int(c[i:i + 2], 16) for i in (1, 3, 5)]
        assert max(rgb) >= 0xe0 and sum(rgb) >= 330, c
    assert ds.app_config.active_fields.paths == ["ground_truth", "show_newer"]
    # Stable by name: refreshing again, from a fresh load, gives the same colours.
    app_config.refresh_app_config(workspace)
    ds.reload()
    assert {f["path"]: f["fieldColor"] for f in ds.app_config.color_scheme.fields} == colors
    # A field added later leaves the earlier fields' colours as they were.
    later = app_config.field_colors([*app_config.label_fields(workspace), "pred_later"])
    assert {k: v for k, v in later.items() if k != "pred_later"} == colors
    assert later["pred_later"] not in colors.values()


def test_field_colours_are_distinct_until_the_palette_runs_out() -> None:
    names = [f"pred_run{i}" for i in range(len(app_config.PALETTE))]
    colors = app_config.field_colors(["ground_truth", *names])
    assert len(set(colors.values())) == len(names) + 1
    assert colors == app_config.field_colors(["ground_truth", *names])
    assert colors["ground_truth"] == app_config.GROUND_TRUTH_COLOR
