"""core.curves: labels needed to reach a score, label saving against random."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.curves import label_saving, labels_to_reach, mean_std

X = [50, 100, 150, 200]


@pytest.mark.parametrize(("scores", "target", "expected"), [
    ([0.1, 0.2, 0.3, 0.4], 0.25, 125.0),   # interpolated between rounds
    ([0.1, 0.2, 0.3, 0.4], 0.4, 200.0),
    ([0.1, 0.2, 0.3, 0.4], 0.05, 50.0),    # reached at the first point
    ([0.1, 0.2, 0.3, 0.4], 0.5, None),     # never reached
    ([0.1, 0.3, 0.2, 0.4], 0.25, 87.5),    # the first crossing counts
    ([0.1, 0.2, 0.2, 0.4], 0.2, 100.0),
])
def test_labels_to_reach(scores: list[float], target: float, expected: float | None) -> None:
    got = labels_to_reach(X, scores, target)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_label_saving_against_random() -> None:
    random = [(X, [0.1, 0.2, 0.3, 0.4]), (X, [0.1, 0.15, 0.2, 0.3])]
    better = [(X, [0.1, 0.3, 0.4, 0.5]), (X, [0.1, 0.3, 0.35, 0.4])]
    s = label_saving(better, random)
    # seed 0: reaches 0.4 at 150 of 200 labels; seed 1: 0.3 at 100 of 200
    assert s.fractions == [pytest.approx(0.75), pytest.approx(0.5)]
    assert s.mean == pytest.approx(0.625) and s.std == pytest.approx(0.125)
    assert s.reached == 2 and s.undefined == 0
    assert label_saving(random, random).mean == pytest.approx(1.0)


def test_label_saving_when_random_does_not_improve_or_is_never_reached() -> None:
    flat = [(X, [0.2, 0.1, 0.15, 0.2])]
    s = label_saving([(X, [0.3, 0.4, 0.5, 0.6])], flat)
    assert (s.undefined, s.reached, s.fractions) == (1, 0, [None]) and math.isnan(s.mean)
    worse = label_saving([(X, [0.1, 0.1, 0.1, 0.1])], [(X, [0.1, 0.2, 0.3, 0.4])])
    assert (worse.reached, worse.undefined) == (0, 0)
    assert worse.to_dict()["mean"] is None


def test_mean_std_over_seeds_uses_the_common_rounds() -> None:
    mean, std = mean_std([[0.1, 0.3, 0.5], [0.3, 0.5]])
    np.testing.assert_allclose(mean, [0.2, 0.4])
    np.testing.assert_allclose(std, [0.1, 0.1])
