"""Hard-negative mining maths: cross-class overlaps, counts, nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.mining import class_counts, cross_class_matches, pair_iou, top_k_similar
from workbench.core.nms import box_iou


@pytest.mark.parametrize(("a", "b", "iou"), [
    ([0, 0, 1, 1], [0, 0, 1, 1], 1.0),
    ([0, 0, 1, 1], [1, 1, 2, 2], 0.0),
    ([0, 0, 2, 1], [1, 0, 3, 1], 1 / 3),
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
])
def test_pair_iou(a: list[float], b: list[float], iou: float) -> None:
    assert pair_iou(np.array([a], float), np.array([b], float))[0] == pytest.approx(iou)


def test_confusion_needs_another_class_and_enough_overlap() -> None:
    gt_image = [0, 0, 1]
    gt_xyxy = [[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]]
    gt_label = ["fish", "shark", "fish"]
    pred_image = [0, 0, 0, 1, 2]
    pred_xyxy = [[0, 0, 10, 10],      # on the fish, says shark -> confusion with gt 0
                 [20, 20, 30, 31],    # on the shark, says shark -> same class: not one
                 [50, 50, 60, 60],    # on nothing
                 [0, 0, 10, 10],      # image 1, on a fish, says fish
                 [0, 0, 10, 10]]      # image 2 has no ground truth
    pred_label = ["shark", "shark", "fish", "fish", "shark"]
    got = cross_class_matches(pred_image, pred_xyxy, pred_label, gt_image, gt_xyxy, gt_label)
    assert got.tolist() == [0, -1, -1, -1, -1]


def test_confusion_picks_the_best_overlap() -> None:
    got = cross_class_matches([0], [[0, 0, 10, 10]], ["fish"], [0, 0],
                              [[0, 0, 10, 6], [0, 0, 10, 9]], ["shark", "ray"], iou=0.5)
    assert got.tolist() == [1]


boxes = st.lists(st.tuples(st.integers(0, 3), st.floats(0, 50), st.floats(0, 50),
                           st.floats(1, 30), st.floats(1, 30), st.sampled_from("abc")),
                 max_size=12)


@settings(max_examples=60, deadline=None)
@given(boxes, boxes, st.floats(0.05, 0.95))
def test_confusion_matches_brute_force(preds: list, gts: list, thr: float) -> None:
    def unpack(rows: list) -> tuple:
        if not rows:
            return np.zeros(0, int), np.zeros((0, 4)), np.zeros(0, str)
        img, x, y, w, h, lab = map(np.asarray, zip(*rows, strict=True))
        return img.astype(int), np.c_[x, y, x + w, y + h], lab.astype(str)

    pi, pb, pl = unpack(preds)
    gi, gb, gl = unpack(gts)
    got = cross_class_matches(pi, pb, pl, gi, gb, gl, thr)
    for k in range(len(pi)):
        ious = box_iou(pb[k:k + 1], gb)[0] if len(gb) else np.zeros(0)
        ok = (gi == pi[k]) & (gl != pl[k]) & (ious >= thr)
        if not ok.any():
            assert got[k] == -1
        else:
            assert ok[got[k]] and ious[got[k]] == pytest.approx(ious[ok].max())


def test_class_counts_table() -> None:
    table = class_counts(["a", "b", "c"], fp=["a", "a", "b", "x"], misses=[])
    assert table == {"a": {"fp": 2, "misses": 0}, "b": {"fp": 1, "misses": 0},
                     "c": {"fp": 0, "misses": 0}}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 20), st.integers(1, 8), st.integers(0, 10_000))
def test_top_k_similar_is_the_brute_force_ranking(m: int, p: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q, b = rng.normal(size=(m, 5)), rng.normal(size=(p, 5))
    idx, sims = top_k_similar(q, b, k)
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ \
        (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    assert idx.shape == (m, min(k, p))
    np.testing.assert_allclose(sims, np.sort(cos, axis=1)[:, ::-1][:, :min(k, p)])
    np.testing.assert_allclose(np.take_along_axis(cos, idx, axis=1), sims)


def test_top_k_similar_empty() -> None:
    idx, sims = top_k_similar(np.zeros((0, 3)), np.ones((4, 3)), 2)
    assert idx.shape == (0, 0) and sims.shape == (0, 0)
