from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.splits import assign_splits

RATIOS = [0.7, 0.15, 0.15]


def _data(seed: int, n: int = 600, c: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    freq = np.array([0.6, 0.25, 0.1, 0.05, 0.02, 0.006])[:c]
    return rng.random((n, c)) < freq


def test_ratios_and_every_class_in_every_split() -> None:
    m = _data(0)
    s = assign_splits(m, RATIOS, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(s, minlength=3) / len(s), RATIOS, atol=0.02)
    for c in range(m.shape[1]):
        if m[:, c].sum() >= 3:
            assert all(m[s == k, c].any() for k in range(3)), c


def test_per_class_stratified() -> None:
    m = _data(1, n=2000)
    s = assign_splits(m, RATIOS, np.random.default_rng(3))
    for c in range(3):  # the common classes: close to the ratios
        share = np.array([m[s == k, c].sum() for k in range(3)]) / m[:, c].sum()
        np.testing.assert_allclose(share, RATIOS, atol=0.03)


def test_deterministic_for_a_seed() -> None:
    m = _data(2)
    a = assign_splits(m, RATIOS, np.random.default_rng(7))
    b = assign_splits(m, RATIOS, np.random.default_rng(7))
    c = assign_splits(m, RATIOS, np.random.default_rng(8))
    assert (a == b).all()
    assert (a != c).any()


def test_groups_stay_together() -> None:
    m = _data(3)
    groups = np.random.default_rng(0).integers(0, 60, len(m))
    groups[:50] = -1
    s = assign_splits(m, RATIOS, np.random.default_rng(0), groups=groups)
    for g in range(60):
        assert len(set(s[groups == g].tolist())) <= 1


def test_fixed_images_keep_their_split_and_pull_their_group() -> None:
    m = _data(4, n=100)
    fixed = np.full(100, -1)
    fixed[:10] = 2
    groups = np.full(100, -1)
    groups[5] = groups[50] = 9  # image 50 is free but shares a group with fixed image 5
    s = assign_splits(m, RATIOS, np.random.default_rng(0), groups=groups, fixed=fixed)
    assert (s[:10] == 2).all()
    assert s[50] == 2


def test_zero_ratio_split_gets_nothing() -> None:
    m = _data(5, n=200)
    s = assign_splits(m, [0.8, 0.2, 0.0], np.random.default_rng(0))
    assert not (s == 2).any()


def test_negatives_and_empty() -> None:
    assert assign_splits(np.zeros((0, 3), bool), RATIOS, np.random.default_rng(0)).shape == (0,)
    s = assign_splits(np.zeros((100, 2), bool), RATIOS, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(s, minlength=3), [70, 15, 15], atol=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(10, 300))
def test_properties(seed: int, n: int) -> None:
    m = _data(seed, n=n, c=4)
    groups = np.random.default_rng(seed).integers(-1, n // 3 + 1, n)
    s = assign_splits(m, RATIOS, np.random.default_rng(seed), groups=groups)
    assert s.shape == (n,)
    assert ((s >= 0) & (s < 3)).all()
    for g in np.unique(groups[groups >= 0]):
        assert len(set(s[groups == g].tolist())) == 1
    again = assign_splits(m, RATIOS, np.random.default_rng(seed), groups=groups)
    assert (s == again).all()


@pytest.mark.parametrize("n_with_class", [3, 4, 10])
def test_rare_class_reaches_every_split(n_with_class: int) -> None:
    m = np.zeros((100, 2), bool)
    m[:, 0] = True
    m[:n_with_class, 1] = True
    s = assign_splits(m, RATIOS, np.random.default_rng(0))
    assert all(m[s == k, 1].any() for k in range(3))
