"""predictions import + select on a real mongod."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import demo_images
from workbench.errors import ConfigError, WorkbenchError
from workbench.ingestion.ingest import ingest
from workbench.prediction.imported import PredictionImportError, import_predictions
from workbench.selection.api import SelectConfig, select
from workbench.store import runs

pytestmark = pytest.mark.integration
CLASSES = ["fish", "shark", "penguin"]


def _pool(ws, tmp_path: Path, n: int = 12) -> list[str]:  # type: ignore[no-untyped-def]
    ws.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=n):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    return sorted(ws.dataset.values("filepath"))


def _line(fp: str, dets: list[dict]) -> str:
    return json.dumps({"filepath": fp, "detections": dets})


def _det(label: str, probs: list[float], conf: float = 0.6,
         box: list[float] | None = None) -> dict:
    return {"label": label, "box": box or [0.1, 0.1, 0.2, 0.2], "confidence": conf,
            "class_probs": probs}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_then_select_by_entropy(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=6)
    certain = [0.98, 0.01, 0.01]
    lines = [_line(fps[0], [_det("fish", certain)]),
             _line(fps[1], [_det("fish", certain), _det("shark", [0.4, 0.35, 0.25])]),
             _line(fps[2], [_det("penguin", [0.34, 0.33, 0.33])]),
             _line(fps[3], [_det("shark", [0.1, 0.8, 0.1])]),
             _line(fps[4], [])]  # fps[5] not predicted
    r = import_predictions(workspace, _write(tmp_path, lines), "p1")
    assert (r.samples, r.boxes) == (5, 5)
    ds = workspace.dataset
    s = ds.match({"filepath": fps[1]}).first()
    assert s.pred_p1.detections[1].class_probs == [0.4, 0.35, 0.25]
    assert s.pred_p1.detections[1].bounding_box == pytest.approx([0.1, 0.1, 0.2, 0.2], abs=1e-12)
    res = select(workspace, SelectConfig(n=3, strategy="entropy", round="r1"))
    by_id = dict(zip(*ds.values(["id", "filepath"]), strict=True))
    # No boxes = uncertain (1.0), then the near-uniform penguin, then the mixed image.
    assert [by_id[i] for i in res.sample_ids] == [fps[4], fps[2], fps[1]]
    assert res.scores[0] == 1.0 and res.scores[1] > res.scores[2]
    assert any("have no predictions" in w for w in res.warnings)
    chosen = ds.match({"round_selected": "r1"})
    assert len(chosen) == 3 and set(chosen.distinct("status")) == {"queued"}
    assert all({"queued", "r1"} <= set(t) and "unlabeled" not in t for t in chosen.values("tags"))
    doc = runs.get_run(workspace, "r1", kind="select")
    assert doc and doc["outputs"]["sample_ids"] == res.sample_ids and doc["params"]["seed"] == 0
    # Already queued images are no candidates; the slow (numpy) path agrees with the fast one.
    nxt = select(workspace, SelectConfig(n=10, strategy="entropy", aggregate="max",
                                         round="r2", dry_run=True))
    slow = select(workspace, SelectConfig(n=10, strategy="entropy", aggregate="mean",
                                          round="r2", dry_run=True))
    assert set(nxt.sample_ids) == set(slow.sample_ids) == {
        i for i, f in by_id.items() if f in (fps[0], fps[3])}
    assert any("asked for 10" in w for w in nxt.warnings)
    assert len(ds.match({"round_selected": "r2"})) == 0  # dry run wrote nothing


def test_round_rules_and_random(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=10)
    import_predictions(workspace, _write(tmp_path, [_line(f, [_det("fish", [0.5, 0.3, 0.2])])
                                                    for f in fps]), "p1")
    select(workspace, SelectConfig(n=2, round="a"))
    with pytest.raises(WorkbenchError, match="exists; pass --replace"):
        select(workspace, SelectConfig(n=2, round="a"))
    redo = select(workspace, SelectConfig(n=3, round="a", replace=True))
    assert len(workspace.dataset.match({"round_selected": "a"})) == 3 and redo.selected == 3
    r1 = select(workspace, SelectConfig(n=4, strategy="random", seed=7, dry_run=True))
    r2 = select(workspace, SelectConfig(n=4, strategy="random", seed=7, dry_run=True))
    r3 = select(workspace, SelectConfig(n=4, strategy="random", seed=8, dry_run=True))
    assert r1.sample_ids == r2.sample_ids != r3.sample_ids
    queued = set(workspace.dataset.match({"status": "queued"}).values("id"))
    assert not queued & set(r1.sample_ids)
    every = select(workspace, SelectConfig(n=100, strategy="random", round="all"))
    assert every.selected == 7
    with pytest.raises(WorkbenchError, match="no unlabeled images"):
        select(workspace, SelectConfig(n=1, strategy="random", round="none-left"))


def test_weights_band_and_balance(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=6)
    lines = [_line(fps[0], [_det("fish", [0.6, 0.2, 0.2], conf=0.9)]),
             _line(fps[1], [_det("shark", [0.2, 0.6, 0.2], conf=0.5),
                            _det("shark", [0.2, 0.6, 0.2], conf=0.45)]),
             _line(fps[2], [_det("penguin", [0.2, 0.2, 0.6], conf=0.6)]),
             _line(fps[3], [_det("fish", [0.5, 0.4, 0.1], conf=0.95)]),
             _line(fps[4], [_det("fish", [0.7, 0.2, 0.1], conf=0.35)]),
             _line(fps[5], [_det("shark", [0.3, 0.6, 0.1], conf=0.2)])]
    import_predictions(workspace, _write(tmp_path, lines), "p")
    by_id = dict(zip(*workspace.dataset.values(["id", "filepath"]), strict=True))
    band = select(workspace, SelectConfig(n=1, conf_band=(0.3, 0.7), dry_run=True))
    assert by_id[band.sample_ids[0]] == fps[1] and band.scores == [2.0]
    weighted = select(workspace, SelectConfig(n=1, strategy="least-confidence",
                                              class_weights={"penguin": 5.0}, dry_run=True))
    assert by_id[weighted.sample_ids[0]] == fps[2]
    balanced = select(workspace, SelectConfig(n=3, class_balance=True, dry_run=True))
    labels = {by_id[i] for i in balanced.sample_ids}
    assert fps[2] in labels  # the only penguin image gets the penguin quota
    with pytest.raises(ConfigError, match="unknown classes"):
        select(workspace, SelectConfig(n=1, class_weights={"whale": 2.0}, dry_run=True))


def test_diversity_needs_embeddings_and_uses_them(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=8)
    import_predictions(workspace, _write(tmp_path, [_line(f, [_det("fish", [0.4, 0.3, 0.3])])
                                                    for f in fps]), "p")
    with pytest.raises(ConfigError, match="needs --embeddings"):
        SelectConfig(n=2, diversity="coreset")
    ds = workspace.dataset
    ids = ds.values("id")
    # Two tight clusters of four: core-set must take one from each.
    emb = [np.eye(4)[0] + 0.01 * k for k in range(4)] + [np.eye(4)[1] + 0.01 * k for k in range(4)]
    ds.set_values("emb_test", [e.tolist() for e in emb])
    for method in ("coreset", "cluster"):
        res = select(workspace, SelectConfig(n=2, diversity=method, embeddings="emb_test",
                                             dry_run=True))
        assert {ids.index(i) // 4 for i in res.sample_ids} == {0, 1}, method


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"filepath": "/nowhere.jpg", "detections": []}', "no sample has filepath"),
        ('{"filepath": "FP", "detections": [{"label": "whale", "box": [0, 0, 0.1, 0.1], '
         '"confidence": 0.5}]}', "unknown label 'whale'"),
        ('{"filepath": "FP", "detections": [{"label": "fish", "box": [0.9, 0, 0.5, 0.1], '
         '"confidence": 0.5}]}', "outside the image"),
        ('{"filepath": "FP", "detections": [{"label": "fish", "box": [0, 0, 0.1], '
         '"confidence": 0.5}]}', "'box' must be"),
        ('{"filepath": "FP", "detections": [{"label": "fish", "box": [0, 0, 0.1, 0.1], '
         '"confidence": 1.5}]}', "'confidence' must be"),
        ('{"filepath": "FP", "detections": [{"label": "fish", "box": [0, 0, 0.1, 0.1], '
         '"confidence": 0.5, "class_probs": [1, 0]}]}', "'class_probs' must be 3"),
        ("{oops", "not valid JSON"),
    ],
)
def test_import_rejects_bad_lines_and_writes_nothing(workspace, tmp_path: Path, line: str,
                                                     message: str) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=2)
    good = _line(fps[0], [_det("fish", [0.5, 0.3, 0.2])])
    path = _write(tmp_path, [good, line.replace("FP", fps[1])])
    with pytest.raises(PredictionImportError) as info:
        import_predictions(workspace, path, "bad")
    issue = info.value.result.issues[0]
    assert issue.line == 2 and message in issue.message
    assert "pred_bad" not in workspace.dataset.get_field_schema()
    assert runs.get_run(workspace, "bad") is None
    ok = import_predictions(workspace, path, "bad", skip_bad=True)
    assert (ok.samples, ok.skipped_lines) == (1, 1)


def test_candidate_counts_from_indexes_leave_out_known_negatives(  # type: ignore[no-untyped-def]
        workspace, tmp_path: Path) -> None:
    """``count_scored``/``count_unscored`` count index keys, less the images tagged as
    negatives: the same as filtering every candidate document."""
    from workbench.store import pool, schema

    fps = _pool(workspace, tmp_path, n=8)
    probs = [0.6, 0.3, 0.1]
    import_predictions(workspace, _write(tmp_path, [_line(fp, [_det("fish", probs)])
                                                    for fp in fps[:5]]), "p")
    negatives = [fps[0], fps[6]]  # one scored, one not
    workspace.samples.update_many({"filepath": {"$in": negatives}},
                                  {"$push": {"tags": schema.NEGATIVE_TAG}})
    workspace.samples.update_one({"filepath": fps[1]}, {"$set": {"status": "labeled"}})
    for key in ("entropy", "n_boxes"):
        path = f"scores_p.{key}"
        want_scored = workspace.samples.count_documents({**pool.CANDIDATES, path: {"$ne": None}})
        want_unscored = workspace.samples.count_documents({**pool.CANDIDATES, path: None})
        assert (want_scored, want_unscored) == (3, 2)
        assert pool.count_scored(workspace, "scores_p", key) == want_scored
        assert pool.count_unscored(workspace, "scores_p", key) == want_unscored
