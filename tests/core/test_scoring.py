from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.core import diversity, ranking, scoring

probs = arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(2, 8)),
               elements=st.floats(0.0, 1.0))


@pytest.mark.parametrize(
    ("p", "lc", "mg", "ent"),
    [
        ([0.7, 0.2, 0.1], 0.3, 0.5, -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1))
         / np.log(3)),
        ([1.0, 0.0, 0.0], 0.0, 0.0, 0.0),
        ([0.5, 0.5, 0.0], 0.5, 1.0, np.log(2) / np.log(3)),
        ([1 / 3, 1 / 3, 1 / 3], 2 / 3, 1.0, 1.0),
        ([0.4, 0.1, 0.0], 0.2, 0.4, -(0.8 * np.log(0.8) + 0.2 * np.log(0.2)) / np.log(3)),
    ],
)
def test_hand_computed(p: list[float], lc: float, mg: float, ent: float) -> None:
    assert scoring.least_confidence([p])[0] == pytest.approx(lc)
    assert scoring.margin([p])[0] == pytest.approx(mg)
    assert scoring.entropy([p])[0] == pytest.approx(ent)


@given(probs)
def test_score_ranges(p: np.ndarray) -> None:
    for fn in (scoring.least_confidence, scoring.margin, scoring.entropy):
        s = fn(p)
        assert s.shape == (len(p),)
        assert ((s >= -1e-9) & (s <= 1 + 1e-9)).all()


@given(st.integers(2, 12))
def test_entropy_is_maximal_for_uniform(c: int) -> None:
    uniform = np.full((1, c), 1.0 / c)
    rng = np.random.default_rng(c)
    others = rng.dirichlet(np.ones(c), size=50)
    assert scoring.entropy(uniform)[0] == pytest.approx(1.0)
    assert (scoring.entropy(others) <= 1.0 + 1e-12).all()


def test_aggregate_table() -> None:
    s = np.array([0.1, 0.9, 0.5, 0.3, 0.7])
    idx = np.array([0, 0, 2, 2, 2])
    np.testing.assert_allclose(scoring.aggregate(s, idx, 4, "max"), [0.9, 1.0, 0.7, 1.0])
    np.testing.assert_allclose(scoring.aggregate(s, idx, 4, "mean", empty=0.0),
                               [0.5, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(scoring.aggregate(s, idx, 4, "sum", empty=0.0),
                               [1.0, 0.0, 1.5, 0.0])
    np.testing.assert_allclose(scoring.aggregate(s, idx, 4, "topk", k=2, empty=0.0),
                               [0.5, 0.0, 0.6, 0.0])
    with pytest.raises(ValueError, match="unknown aggregation"):
        scoring.aggregate(s, idx, 4, "median")


@settings(deadline=None)
@given(st.integers(1, 200), st.integers(1, 30), st.integers(0, 10_000))
def test_aggregate_matches_a_loop(m: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.random(m)
    idx = rng.integers(0, n, m)
    for how in ("max", "mean", "sum", "topk"):
        got = scoring.aggregate(s, idx, n, how, k=2, empty=-1.0)
        for i in range(n):
            vals = np.sort(s[idx == i])[::-1]
            want = {"max": vals.max() if len(vals) else -1.0,
                    "mean": vals.mean() if len(vals) else -1.0,
                    "sum": vals.sum() if len(vals) else -1.0,
                    "topk": vals[:2].mean() if len(vals) else -1.0}[how]
            assert got[i] == pytest.approx(want)


def test_in_band_and_confidence_uncertainty() -> None:
    c = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    assert scoring.in_band(c, 0.3, 0.7).tolist() == [0, 1, 1, 1, 0]
    np.testing.assert_allclose(scoring.confidence_uncertainty(c), [0.2, 0.6, 1.0, 0.6, 0.2])


@given(st.integers(0, 1000), st.integers(0, 60))
def test_top_n_size_and_determinism(seed: int, n: int) -> None:
    s = np.random.default_rng(seed).integers(0, 5, 40).astype(float)
    a = ranking.top_n(s, n, np.random.default_rng(seed))
    b = ranking.top_n(s, n, np.random.default_rng(seed))
    assert len(a) == min(n, 40) and len(set(a.tolist())) == len(a)
    assert (a == b).all()
    if 0 < n < 40:
        assert s[a].min() >= np.sort(s)[::-1][len(a) - 1]


def test_class_balanced_round_robin() -> None:
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.5])
    cls = np.array([0, 0, 0, 1, 1, -1])
    chosen = ranking.class_balanced(s, cls, 2, 4, np.random.default_rng(0)).tolist()
    assert chosen == [0, 4, 5, 1]


def test_k_center_greedy_covers_clusters() -> None:
    rng = np.random.default_rng(0)
    centers = np.eye(4) * 10
    x = np.concatenate([c + rng.normal(0, 0.1, (25, 4)) for c in centers])
    picks = diversity.k_center_greedy(x, 4, np.random.default_rng(1))
    assert sorted(p // 25 for p in picks.tolist()) == [0, 1, 2, 3]
    again = diversity.k_center_greedy(x, 4, np.random.default_rng(1))
    assert (picks == again).all()
    avoided = diversity.k_center_greedy(x[:75], 2, np.random.default_rng(0), covered=x[:25])
    assert all(p >= 25 for p in avoided.tolist())


def test_cluster_pick_takes_most_uncertain_per_cluster() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([np.eye(3)[c] + rng.normal(0, 0.01, (10, 3)) for c in range(3)])
    s = rng.random(30)
    picks = diversity.cluster_pick(x, s, 3, np.random.default_rng(0))
    assert len(picks) == 3
    for p in picks.tolist():
        group = range((p // 10) * 10, (p // 10) * 10 + 10)
        assert s[p] == max(s[g] for g in group)


def test_disagreement_table() -> None:
    from workbench.core.agreement import disagreement, pass_agreement

    box = [[0.1, 0.1, 0.3, 0.3]]
    assert pass_agreement(box, [0], box, [0]) == 1.0
    assert pass_agreement(box, [0], box, [1]) == 0.0  # relabeled
    assert pass_agreement(box, [0], [], []) == 0.0  # missed
    assert pass_agreement([], [], [], []) == 1.0
    shifted = [[0.1, 0.1, 0.3, 0.4]]  # IoU 0.04/0.06
    assert pass_agreement(box, [0], shifted, [0]) == pytest.approx(2 / 3)
    two = [[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.8, 0.8]]
    assert pass_agreement(box, [0], two, [0, 0]) == pytest.approx(0.5)  # an extra box
    ref = (np.array(box * 2), np.array([0, 0]), np.array([0, 1]))
    same = (np.array(box * 2), np.array([0, 0]), np.array([0, 1]))
    other = (np.array(box), np.array([0]), np.array([0]))  # image 1 lost its box
    np.testing.assert_allclose(disagreement([ref, same, other], 3), [0.0, 0.5, 0.0])


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 1000))
def test_disagreement_range(seed: int) -> None:
    from workbench.core.agreement import disagreement

    rng = np.random.default_rng(seed)
    passes = []
    for _ in range(3):
        m = int(rng.integers(0, 12))
        xy = rng.random((m, 2)) * 0.7
        passes.append((np.c_[xy, xy + 0.2], rng.integers(0, 3, m), rng.integers(0, 5, m)))
    d = disagreement(passes, 5)
    assert ((d >= 0) & (d <= 1 + 1e-12)).all()
    np.testing.assert_allclose(disagreement([passes[0], passes[0]], 5), 0.0)
