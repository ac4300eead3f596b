"""The strategy and diversity registries: names, facts, precomputed scores, every strategy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.selection.test_select import _det, _line, _pool, _write
from workbench.core.types import Predictions
from workbench.errors import ConfigError, UnknownNameError
from workbench.prediction.imported import import_predictions
from workbench.selection.api import (
    DIVERSITY,
    STRATEGIES,
    SelectConfig,
    image_scores,
    indexed_keys,
    parse_class_weights,
    select,
    strategy_help,
)
from workbench.store import predictions


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        SelectConfig(n=1, strategy="bald")
    assert set(STRATEGIES.names()) <= set(info.value.valid)
    assert all(name in str(info.value) for name in STRATEGIES.names())
    with pytest.raises(UnknownNameError, match="coreset"):
        SelectConfig(n=1, diversity="kmeans++")


def test_every_strategy_states_every_fact() -> None:
    facts = {"help", "requires", "per_box", "score_key", "needs_tta", "multi_run", "baseline",
             "hand_picked"}
    for entry in STRATEGIES:
        assert set(entry.meta) == facts, entry.name
        assert entry.meta["help"], entry.name
        assert (entry.value.box_score is not None) == entry.meta["per_box"], entry.name
    assert STRATEGIES.names(baseline=True) == ["random"]
    assert set(STRATEGIES.names(per_box=True)) == {"least-confidence", "margin", "entropy"}
    assert DIVERSITY.names() == ["none", "coreset", "cluster"]
    assert strategy_help() == ("least-confidence | margin | entropy | tta-disagreement "
                               "(predict --tta) | ensemble-disagreement (--run A,B,...) | "
                               "hand-picked (--sample-id ID ... or the App's selection)")
    assert STRATEGIES.names(hand_picked=True) == ["hand-picked"]


def test_image_scores_hold_every_precomputed_strategy() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.5, 0.5, 0.0]])
    preds = Predictions(np.tile([0.1, 0.1, 0.3, 0.3], (3, 1)), np.array([0.9, 0.4, 0.5]),
                        np.array([0, 0, 1]), np.array([0, 0, 2]), probs)
    scores = image_scores(preds, 4, tta=np.array([0.1, 0.2, 0.3, 0.4]))
    per_box = {STRATEGIES.meta(n)["score_key"]: n for n in STRATEGIES.names(per_box=True)}
    assert list(scores) == [*per_box, "max_conf", "n_boxes", "tta_disagreement"]
    for key, name in per_box.items():
        box = STRATEGIES.get(name).box_score
        assert box is not None
        expected = [box(probs[:2]).max(), 1.0, box(probs[2:]).max(), 1.0]  # empty: uncertain
        np.testing.assert_allclose(scores[key], expected)
    np.testing.assert_array_equal(scores["n_boxes"], [2, 0, 1, 0])
    assert indexed_keys(scores) == [*per_box, "tta_disagreement"]
    assert "tta_disagreement" not in image_scores(preds, 4)


def test_class_weights_parse_or_say_what_is_wrong() -> None:
    assert parse_class_weights(["fish=2", "shark=0.5"]) == {"fish": 2.0, "shark": 0.5}
    for bad in ("fish", "=2", "fish=x"):
        with pytest.raises(ConfigError, match=f"--class-weight expects NAME=W, got '{bad}'"):
            parse_class_weights([bad])
    config = SelectConfig.from_options(n=2, class_weight=["fish=3"], strategy="margin")
    assert config.class_weights == {"fish": 3.0} and config.strategy == "margin"


def _tta_run(ws, run: str) -> None:  # type: ignore[no-untyped-def]
    """Predictions with TTA passes written as ``predict --tta`` writes them (no model)."""
    ids = predictions.view_files(ws, "pool")[0]
    n = len(ids)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(ws.classes)), size=n)
    preds = Predictions(np.tile([0.1, 0.1, 0.4, 0.4], (n, 1)), probs.max(axis=1),
                        probs.argmax(axis=1), np.arange(n), probs)
    passes = Predictions(np.tile([0.1, 0.1, 0.4, 0.4], (2 * n, 1)), np.full(2 * n, 0.5),
                         np.zeros(2 * n, dtype=np.int64), np.repeat(np.arange(n), 2))
    scores = image_scores(preds, n, tta=np.linspace(0.0, 1.0, n))
    predictions.write_predictions(ws, run, ids, preds, ws.classes, scores=scores,
                                  indexed=indexed_keys(scores),
                                  tta=(passes, np.tile([0, 1], n)))


@pytest.mark.integration
@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_registered_strategy_selects(workspace, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=6)
    rng = np.random.default_rng(1)
    lines = [_line(f, [_det("fish", rng.dirichlet(np.ones(3)).tolist(),
                            box=[0.1 + 0.05 * k, 0.1, 0.2, 0.2])]) for k, f in enumerate(fps)]
    import_predictions(workspace, _write(tmp_path, lines), "imported")
    _tta_run(workspace, "tta")
    meta = STRATEGIES.meta(name)
    run = "tta,imported" if meta["multi_run"] else "tta"
    ids = ([str(i) for i in sorted(workspace.samples.distinct("_id", {"split": "pool"}))][2:5]
           if meta["hand_picked"] else [])
    res = select(workspace, SelectConfig(n=3, strategy=name, run=run, dry_run=True,
                                         sample_ids=ids))
    if ids:
        assert res.sample_ids == ids
    assert res.selected == 3 and res.candidates == 6 and len(set(res.sample_ids)) == 3
    assert res.strategy == name and res.warnings == []
    if not meta["baseline"]:
        assert res.scores == sorted(res.scores, reverse=True)
    if meta["per_box"]:  # the indexed walk and the numpy path agree
        slow = select(workspace, SelectConfig(n=3, strategy=name, run=run, aggregate="max",
                                              class_weights={"fish": 1.0}, dry_run=True))
        assert slow.sample_ids == res.sample_ids
        assert slow.scores == pytest.approx(res.scores)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategy": "hand-picked"}, "needs the images to queue"),
    ({"strategy": "entropy", "sample_ids": ["abc"]}, "does not take --sample-id"),
])
def test_hand_picked_needs_ids_and_only_it_takes_them(kwargs: dict, message: str) -> None:
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        SelectConfig(n=1, **kwargs)
