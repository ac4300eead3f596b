"""``ensemble``: fusing stored prediction runs of real images on the real mongod.

The members are ``predictions import`` runs of hand-written boxes (tests/ensemble/conftest.py),
so every fused box, confidence and agreement is known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.ensembling.conftest import EnsembleWorkspace, probs, state, stored
from workbench.ensembling.api import EnsembleConfig, EnsembleError, ensemble
from workbench.selection.api import SelectConfig, select
from workbench.store import runs, schema

pytestmark = pytest.mark.integration


def _corners(box: list[float]) -> np.ndarray:
    x, y, w, h = box
    return np.array([x, y, x + w, y + h])


def _by_label(boxes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["label"]: b for b in boxes}


def test_wbf_of_two_runs_gives_the_known_boxes(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    result = ensemble(ws, EnsembleConfig(runs=["a", "b"], run="e1"))
    assert (result.images, result.skipped, result.boxes) == (3, 1, 4)
    assert result.member_boxes == {"a": 3, "b": 3}
    assert result.agreement == {"1": 2, "2": 2}
    assert result.class_probs and "1 of the 4 samples" in result.warnings[0]
    # image 0: the two fish overlap (IoU 0.82): one box, score-weighted corners, conf 0.8
    first = _by_label(stored(ws, "pred_e1", ids[0]))
    fish, shark = first["fish"], first["shark"]
    expected = (0.9 * _corners([0.10, 0.10, 0.20, 0.20])
                + 0.7 * _corners([0.12, 0.10, 0.20, 0.20])) / 1.6
    np.testing.assert_allclose(_corners(fish["bounding_box"]), expected, atol=1e-9)
    assert fish["confidence"] == pytest.approx(0.8) and fish["agreement"] == 2
    np.testing.assert_allclose(fish["class_probs"], (0.9 * np.array(probs("fish", 0.9))
                                                     + 0.7 * np.array(probs("fish", 0.7))) / 1.6)
    # a box only one of two equally weighted runs found keeps half its confidence
    assert shark["confidence"] == pytest.approx(0.3) and shark["agreement"] == 1
    (penguin,) = stored(ws, "pred_e1", ids[1])
    assert (penguin["label"], penguin["agreement"]) == ("penguin", 1)
    assert penguin["confidence"] == pytest.approx(0.2)
    (same,) = stored(ws, "pred_e1", ids[2])
    assert same["confidence"] == pytest.approx(0.8) and same["agreement"] == 2
    np.testing.assert_allclose(same["bounding_box"], [0.30, 0.30, 0.10, 0.10], atol=1e-9)
    assert stored(ws, "pred_e1", ids[3]) == []  # b never predicted image 3: not fused
    # stored like predict stores a run: display copy, scores, unc_ fields, run record
    fields = set(schema.field_names(ws))
    assert {"pred_e1", "show_e1", "scores_e1", "unc_e1_entropy"} <= fields
    assert set(result.uncertainty_fields) <= fields
    assert [d["label"] for d in stored(ws, "show_e1", ids[0])] == ["fish", "shark"]
    assert stored(ws, "show_e1", ids[1]) == []  # 0.2 < display_conf 0.25
    doc = runs.get_run(ws, "e1")
    assert doc is not None and doc["kind"] == "ensemble"
    assert doc["params"] == {"members": ["a", "b"], "method": "wbf", "weights": [1.0, 1.0],
                             "iou": 0.55, "skip_conf": 0.0, "view": "all",
                             "display_conf": 0.25}
    assert {k: doc["outputs"][k] for k in ("images", "boxes", "field")} == {
        "images": 3, "boxes": 4, "field": "pred_e1"}


def test_selection_takes_the_fused_run(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    ensemble(ws, EnsembleConfig(runs=["a", "b"], run="e2"))
    chosen = select(ws, SelectConfig(n=2, strategy="least-confidence", run="e2", round="r-e2"))
    assert chosen.selected == 2 and set(chosen.sample_ids) <= {str(i) for i in ids[:3]}
    # least confident fused image first: image 1 (penguin at 0.2), then image 0 (shark 0.3)
    assert chosen.sample_ids == [str(ids[1]), str(ids[0])]
    assert any("no predictions from run 'e2'" in w for w in chosen.warnings)


def test_weights_and_nested_ensembles(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    weighted = ensemble(ws, EnsembleConfig(runs=["a", "b"], weights=[2, 1], run="w"))
    shark = _by_label(stored(ws, "pred_w", ids[0]))["shark"]
    assert shark["confidence"] == pytest.approx(0.6 * 2 / 3)  # weight 2 of 3
    assert weighted.weights == [2.0, 1.0]
    nested = ensemble(ws, EnsembleConfig(runs=["w", "a"], run="nested"))
    assert nested.images == 3 and (runs.get_run(ws, "nested") or {})["kind"] == "ensemble"


def test_nms_keeps_the_best_box_and_skip_conf_drops_weak_ones(ens_ws: EnsembleWorkspace
                                                              ) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    ensemble(ws, EnsembleConfig(runs=["a", "b"], method="nms", run="n"))
    fish = _by_label(stored(ws, "pred_n", ids[0]))["fish"]
    assert fish["confidence"] == pytest.approx(0.9) and fish["agreement"] == 2
    np.testing.assert_allclose(fish["bounding_box"], [0.10, 0.10, 0.20, 0.20], atol=1e-9)
    soft = ensemble(ws, EnsembleConfig(runs=["a", "b"], method="soft-nms", run="s"))
    assert soft.boxes == 6  # soft-NMS keeps the overlapping fish, decayed
    skipped = ensemble(ws, EnsembleConfig(runs=["a", "b"], run="only-0", skip_conf=0.65))
    assert skipped.boxes == 2  # shark 0.6 and penguin 0.4 ignored


@pytest.mark.parametrize("method", ["wbf", "nms"])
def test_identical_members_give_the_member_s_boxes(ens_ws: EnsembleWorkspace,
                                                   method: str) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    result = ensemble(ws, EnsembleConfig(runs=["a", "a2"], method=method, run=f"same-{method}"))
    assert (result.images, result.skipped, result.boxes) == (4, 0, 4)
    assert result.agreement == {"2": 4}
    for sample_id in ids:
        member = sorted(stored(ws, "pred_a", sample_id), key=lambda d: d["label"])
        fused = sorted(stored(ws, f"pred_same-{method}".replace("-", "_"), sample_id),
                       key=lambda d: d["label"])
        assert [d["label"] for d in fused] == [d["label"] for d in member]
        for f, m in zip(fused, member, strict=True):
            np.testing.assert_allclose(f["bounding_box"], m["bounding_box"], atol=1e-9)
            assert f["confidence"] == pytest.approx(m["confidence"])
            np.testing.assert_allclose(f["class_probs"], m["class_probs"], atol=1e-9)


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"runs": ["a", "nope"]}, EnsembleError, "no run of this workspace is named 'nope'"),
    ({"runs": ["b", "c"]}, EnsembleError, "no sample of view 'all'"),
    ({"runs": ["a", "b"], "view": "split:train"}, EnsembleError, "no sample of view"),
    ({"runs": ["a", "b"], "run": "c"}, EnsembleError, "'c' exists; choose another --run"),
])
def test_refusals_write_nothing(ens_ws: EnsembleWorkspace, options: dict[str, Any],
                                error: type[Exception], message: str) -> None:
    ws = ens_ws.ws
    before = state(ws)
    with pytest.raises(error, match=message):
        ensemble(ws, EnsembleConfig(**options))
    assert state(ws) == before


def test_a_run_that_is_not_a_prediction_run_is_refused(ens_ws: EnsembleWorkspace) -> None:
    ws = ens_ws.ws
    ingest_run = next(d["_id"] for d in runs.list_runs(ws, "ingest"))
    with pytest.raises(EnsembleError, match=r"not a prediction run \(kind ingest\).*\(a, a2"):
        ensemble(ws, EnsembleConfig(runs=["a", ingest_run]))


def test_replace_rewrites_the_run(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    ensemble(ws, EnsembleConfig(runs=["a", "b"], run="r"))
    again = ensemble(ws, EnsembleConfig(runs=["a", "a2"], run="r", replace=True))
    assert again.images == 4 and (runs.get_run(ws, "r") or {})["params"]["members"] == ["a", "a2"]
    assert len(stored(ws, "pred_r", ids[3])) == 1
