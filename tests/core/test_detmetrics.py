"""core.detmetrics: COCO-style AP and mAP at IoU 0.5."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.detmetrics import average_precision, map_at

GT = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.8, 0.9], [0.2, 0.6, 0.4, 0.8]])


@pytest.mark.parametrize(("tp", "conf", "n_gt", "expected"), [
    ([True, True], [0.9, 0.8], 2, 1.0),
    ([], [], 3, 0.0),
    ([False, True], [0.9, 0.8], 1, 0.5),          # precision 1/2 at full recall
    ([True, False], [0.9, 0.8], 2, 0.50495),      # recall stops at 0.5: 51 of 101 points
])
def test_average_precision(tp: list, conf: list, n_gt: int, expected: float) -> None:
    assert average_precision(tp, conf, n_gt) == pytest.approx(expected, abs=1e-4)


def test_no_ground_truth_is_nan() -> None:
    assert np.isnan(average_precision([True], [0.5], 0))


def test_perfect_and_wrong_predictions() -> None:
    img = np.array([0, 0, 1])
    cls = np.array([0, 1, 0])
    perfect = map_at(img, GT, [0.9, 0.8, 0.7], cls, img, GT, cls, n_classes=3)
    assert perfect[0] == pytest.approx(1.0)
    assert np.isnan(perfect[1][2])  # class 2 has no ground truth: left out of the mean
    wrong_image = map_at(1 - img, GT, [0.9, 0.8, 0.7], cls, img, GT, cls, n_classes=3)
    assert wrong_image[0] == 0.0
    shifted = GT.copy()
    shifted[0] += [0.1, 0, 0.1, 0]  # IoU 1/3 with its ground truth: a miss and a false positive
    partial, _ = map_at(img, shifted, [0.9, 0.8, 0.7], cls, img, GT, cls, n_classes=3)
    assert 0.0 < partial < 1.0


def test_duplicates_count_once() -> None:
    pred = np.repeat(GT[:1], 2, axis=0)
    m, _ = map_at([0, 0], pred, [0.9, 0.8], [0, 0], [0], GT[:1], [0], n_classes=1)
    assert m == pytest.approx(1.0)  # the duplicate is a false positive after full recall
