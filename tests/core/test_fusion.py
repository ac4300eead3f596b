from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.fusion import nms_fusion, weighted_boxes_fusion
from workbench.core.nms import nms
from workbench.core.types import Predictions


def preds(boxes: list[list[float]], conf: list[float], cls: list[int] | None = None,
          image: list[int] | None = None, probs: list[list[float]] | None = None) -> Predictions:
    n = len(conf)
    return Predictions(np.asarray(boxes, dtype=float).reshape(-1, 4), conf,
                       [0] * n if cls is None else cls, [0] * n if image is None else image,
                       None if probs is None else np.asarray(probs, dtype=float))


def canon(p: Predictions, agreement: np.ndarray | None = None) -> np.ndarray:
    """Rows ``[image, class, conf, x1, y1, x2, y2, (agreement)]`` in a canonical order."""
    cols = [p.image_index[:, None], p.class_id[:, None], p.confidence[:, None], p.xyxy]
    if agreement is not None:
        cols.append(agreement[:, None])
    rows = np.hstack(cols).astype(float)
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows


A = [0.1, 0.1, 0.3, 0.3]
B = [0.12, 0.1, 0.32, 0.3]
FAR = [0.6, 0.6, 0.9, 0.9]

WBF_CASES = [
    # (members, weights, expected rows [image, class, conf, box...], agreement)
    pytest.param([preds([A], [0.8]), preds([A], [0.6])], None,
                 [[0, 0, 0.7, *A]], [2], id="same-box-averaged"),
    pytest.param([preds([A], [0.9]), preds([B], [0.6])], None,
                 [[0, 0, 0.75, 0.108, 0.1, 0.308, 0.3]], [2], id="coords-conf-weighted"),
    pytest.param([preds([A], [0.8]), preds([FAR], [0.6])], None,
                 [[0, 0, 0.3, *FAR], [0, 0, 0.4, *A]], [1, 1], id="disjoint-kept-apart"),
    pytest.param([preds([A], [0.8], cls=[0]), preds([A], [0.6], cls=[1])], None,
                 [[0, 0, 0.4, *A], [0, 1, 0.3, *A]], [1, 1], id="classes-never-fused"),
    pytest.param([preds([A], [0.8], image=[0]), preds([A], [0.6], image=[1])], None,
                 [[0, 0, 0.4, *A], [1, 0, 0.3, *A]], [1, 1], id="images-never-fused"),
    # weights 3:1 -> scores 0.6*3=1.8 and 0.6*1; box = (1.8*A + 0.6*B) / 2.4; conf 2.4 / 4
    pytest.param([preds([A], [0.6]), preds([B], [0.6])], [3.0, 1.0],
                 [[0, 0, 0.6, 0.105, 0.1, 0.305, 0.3]], [2], id="weights-pull-box"),
    pytest.param([preds([A], [0.6]), preds([B], [0.6])], [1.0, 3.0],
                 [[0, 0, 0.6, 0.115, 0.1, 0.315, 0.3]], [2], id="weights-pull-other-way"),
    pytest.param([preds([A], [0.8]), preds([], [])], [3.0, 1.0],
                 [[0, 0, 0.6, *A]], [1], id="weighted-alone-scaled"),
]


@pytest.mark.parametrize(("members", "weights", "rows", "agreement"), WBF_CASES)
def test_wbf_table(members: list[Predictions], weights: list[float] | None,
                   rows: list[list[float]], agreement: list[int]) -> None:
    fused, agree = weighted_boxes_fusion(members, weights)
    expected = np.hstack([np.asarray(rows, dtype=float), np.asarray(agreement)[:, None]])
    np.testing.assert_allclose(canon(fused, agree), expected[np.lexsort(expected.T[::-1])],
                               atol=1e-12)


def test_wbf_conf_max_skip_and_probs() -> None:
    a = preds([A], [0.9], probs=[[0.9, 0.1]])
    b = preds([A, FAR], [0.3, 0.05], probs=[[0.3, 0.7], [0.5, 0.5]])
    fused, agree = weighted_boxes_fusion([a, b], conf_type="max", skip_conf=0.1)
    assert fused.confidence.tolist() == [0.9] and agree.tolist() == [2]
    assert fused.class_probs is not None
    np.testing.assert_allclose(fused.class_probs, [[(0.9 * 0.9 + 0.3 * 0.3) / 1.2,
                                                    (0.9 * 0.1 + 0.3 * 0.7) / 1.2]])
    mixed, _ = weighted_boxes_fusion([a, preds([A], [0.3])])
    assert mixed.class_probs is None


def test_nms_table() -> None:
    a = preds([A, FAR], [0.9, 0.5])
    b = preds([B, FAR], [0.6, 0.7], cls=[0, 1])
    kept, agree = nms_fusion([a, b], iou=0.5)
    np.testing.assert_allclose(canon(kept, agree), [[0, 0, 0.5, *FAR, 1], [0, 0, 0.9, *A, 2],
                                                    [0, 1, 0.7, *FAR, 1]])
    kept, _ = nms_fusion([a, b], weights=[1.0, 2.0], iou=0.5)   # B now wins: 1.2 > 0.9
    assert canon(kept)[1].tolist() == pytest.approx([0, 0, 1.2, *B])
    soft, agree = nms_fusion([a, b], iou=0.5, soft=True, sigma=0.5)
    iou_ab = (0.18 * 0.2) / (0.04 + 0.04 - 0.18 * 0.2)
    rows = canon(soft, agree)
    assert len(rows) == 4 and agree.tolist().count(2) == 2
    assert np.isclose(rows[:, 2], 0.6 * np.exp(-iou_ab ** 2 / 0.5)).any()


def test_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        weighted_boxes_fusion([])
    with pytest.raises(ValueError, match="one per member"):
        nms_fusion([preds([A], [0.5])], [1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        weighted_boxes_fusion([preds([A], [0.5])], [-1.0])


# ---- properties ---------------------------------------------------------------------------

@st.composite
def member(draw: st.DrawFn, n_images: int = 3, n_classes: int = 2) -> Predictions:
    n = draw(st.integers(0, 8))
    corner = st.floats(0.0, 0.99)
    size = st.floats(0.005, 1.0)
    xy = np.asarray(draw(st.lists(st.tuples(corner, corner, size, size), min_size=n,
                                  max_size=n)), dtype=float).reshape(-1, 4)
    boxes = np.c_[xy[:, :2], np.minimum(xy[:, :2] + xy[:, 2:], 1.0)]  # no degenerate boxes
    conf = draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n))
    cls = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    image = sorted(draw(st.lists(st.integers(0, n_images - 1), min_size=n, max_size=n)))
    probs = np.asarray(draw(st.lists(st.floats(0, 1), min_size=3 * n, max_size=3 * n)))
    return Predictions(boxes, conf, cls, image, probs.reshape(n, 3))


members_st = st.lists(member(), min_size=1, max_size=4)
weights_st = st.lists(st.floats(0.1, 3.0), min_size=4, max_size=4)


def _nms_filtered(p: Predictions, iou: float) -> Predictions:
    """One member's boxes with no same-class pair overlapping by more than ``iou``."""
    keep = [np.flatnonzero(p.image_index == i)[nms(p.xyxy[p.image_index == i],
                                                   p.confidence[p.image_index == i], iou,
                                                   p.class_id[p.image_index == i])]
            for i in np.unique(p.image_index)]
    idx = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
    assert p.class_probs is not None
    return Predictions(p.xyxy[idx], p.confidence[idx], p.class_id[idx], p.image_index[idx],
                       p.class_probs[idx])


@settings(max_examples=150, deadline=None)
@given(members_st, weights_st, st.randoms(use_true_random=False), st.booleans())
def test_member_order_invariance(members: list[Predictions], weights: list[float],
                                 rnd: object, use_nms: bool) -> None:
    w = weights[:len(members)]
    perm = list(range(len(members)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    fuse = nms_fusion if use_nms else weighted_boxes_fusion
    p1, a1 = fuse(members, w)
    p2, a2 = fuse([members[i] for i in perm], [w[i] for i in perm])
    np.testing.assert_allclose(canon(p1, a1), canon(p2, a2), rtol=1e-12, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(member(), st.sampled_from([0.3, 0.55, 0.8]))
def test_single_member_returns_itself(p: Predictions, iou: float) -> None:
    q = _nms_filtered(p, iou)
    fused, agree = weighted_boxes_fusion([q], [1.0], iou=iou)
    np.testing.assert_allclose(canon(fused), canon(q), atol=1e-12)
    assert np.all(agree == 1)
    kept, agree = nms_fusion([q], [1.0], iou=iou)
    np.testing.assert_allclose(canon(kept), canon(q))
    kept, _ = nms_fusion([p], [1.0], iou=1.0)  # nothing overlaps by more than 1
    np.testing.assert_allclose(canon(kept), canon(p))


@settings(max_examples=150, deadline=None)
@given(members_st, weights_st, st.sampled_from(["wbf", "nms", "soft"]))
def test_inside_image_and_agreement_bounds(members: list[Predictions], weights: list[float],
                                           method: str) -> None:
    w = weights[:len(members)]
    if method == "wbf":
        out, agree = weighted_boxes_fusion(members, w)
    else:
        out, agree = nms_fusion(members, w, soft=method == "soft")
    assert out.xyxy.min(initial=0.0) >= 0.0 and out.xyxy.max(initial=1.0) <= 1.0
    assert np.all(out.xyxy[:, 2:] >= out.xyxy[:, :2])
    assert agree.shape == (len(out),) and np.all((agree >= 1) & (agree <= len(members)))
    assert np.all(np.diff(out.image_index) >= 0)
    assert len(out) <= sum(len(m) for m in members)
    assert out.class_probs is not None and out.class_probs.shape == (len(out), 3)
    if method != "wbf":  # kept boxes are input boxes
        rows = np.vstack([m.xyxy for m in members])
        assert all(np.any(np.all(rows == b, axis=1)) for b in out.xyxy)

@pytest.mark.parametrize("fuse", [weighted_boxes_fusion, nms_fusion])
def test_empty_members(fuse: object) -> None:
    out, agree = fuse([Predictions.empty(3), Predictions.empty(3)])  # type: ignore[operator]
    assert len(out) == 0 and agree.shape == (0,)
    assert out.class_probs is not None and out.class_probs.shape == (0, 3)
    out, agree = fuse([Predictions.empty(), preds([A], [0.5])])  # type: ignore[operator]
    assert len(out) == 1 and agree.tolist() == [1]
