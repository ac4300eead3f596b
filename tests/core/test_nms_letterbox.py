from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.letterbox import Letterbox
from workbench.core.nms import box_iou, decode_yolo, nms


def test_box_iou_table() -> None:
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]]
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0, 0.25])


def test_nms_class_aware_and_agnostic() -> None:
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]]
    scores = [0.9, 0.8, 0.7, 0.6]
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert nms(boxes, scores, 0.5, classes=[0, 0, 1, 0]).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.5, max_det=1).tolist() == [0]


def test_decode_keeps_class_vectors() -> None:
    # two anchors on the same object (class 1), one low-score anchor elsewhere
    out = np.zeros((4 + 3, 3))
    out[:4, 0] = [50, 50, 20, 20]
    out[:4, 1] = [51, 50, 20, 20]
    out[:4, 2] = [10, 10, 4, 4]
    out[4:, 0] = [0.1, 0.8, 0.3]
    out[4:, 1] = [0.2, 0.7, 0.1]
    out[4:, 2] = [0.05, 0.01, 0.02]
    xyxy, conf, cls, probs = decode_yolo(out, conf=0.25, iou=0.7)
    np.testing.assert_allclose(xyxy, [[40, 40, 60, 60]])
    assert conf.tolist() == [0.8] and cls.tolist() == [1]
    np.testing.assert_allclose(probs, [[0.1, 0.8, 0.3]])
    empty = decode_yolo(out, conf=0.95, iou=0.7)
    assert empty[0].shape == (0, 4) and empty[3].shape == (0, 3)


@pytest.mark.parametrize(("w", "h", "size"), [(416, 312, 224), (300, 416, 320), (640, 640, 160)])
def test_letterbox_geometry(w: int, h: int, size: int) -> None:
    lb = Letterbox.fit(w, h, size)
    assert max(lb.new_w, lb.new_h) == size
    assert 0 <= lb.left <= size - lb.new_w and 0 <= lb.top <= size - lb.new_h
    # the image's corners map back to [0, 0, 1, 1]
    corners = [[lb.left, lb.top, lb.left + lb.new_w, lb.top + lb.new_h]]
    np.testing.assert_allclose(lb.to_image(corners, w, h), [[0, 0, 1, 1]], atol=2.0 / size)


@given(st.integers(16, 2000), st.integers(16, 2000), st.sampled_from([96, 160, 224, 320, 640]))
def test_letterbox_fits(w: int, h: int, size: int) -> None:
    lb = Letterbox.fit(w, h, size)
    assert lb.new_w <= size and lb.new_h <= size
    assert lb.left + lb.new_w <= size and lb.top + lb.new_h <= size


def test_segments() -> None:
    from workbench.core.segments import segments

    assert segments([0, 0, 2, 2, 2, 5], [0, 1, 2, 5]) == ([0, 2, 2, 5], [2, 2, 5, 6])
    assert segments([], [0, 1]) == ([0, 0], [0, 0])


def _nms_one_at_a_time(boxes: np.ndarray, scores: np.ndarray, iou: float,
                       classes: np.ndarray | None, max_det: int) -> list[int]:
    """The textbook greedy NMS: the best remaining box against all the others (of its class),
    repeatedly."""
    b = boxes.astype(np.float64)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while len(order) and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        overlap = box_iou(b[i:i + 1], b[rest])[0] > iou
        if classes is not None:
            overlap &= classes[rest] == classes[i]
        order = rest[~overlap]
    return keep


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400), st.integers(0, 2**31 - 1), st.floats(0.1, 0.9),
       st.booleans(), st.integers(1, 500))
def test_nms_equals_the_one_box_at_a_time_greedy(n: int, seed: int, iou: float,
                                                  by_class: bool, max_det: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-20, 100, (n, 2))  # negative corners too, as decoded edge boxes have
    boxes = np.c_[xy, xy + rng.uniform(1, 40, (n, 2))]
    scores = np.round(rng.uniform(0, 1, n), 2)  # ties on purpose
    classes = rng.integers(0, 3, n) if by_class else None
    assert nms(boxes, scores, iou, classes, max_det).tolist() == _nms_one_at_a_time(
        boxes, scores, iou, classes, max_det)


def test_nms_blocks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.core.nms as module

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (300, 2))
    boxes = np.c_[xy, xy + rng.uniform(5, 30, (300, 2))]
    scores = rng.uniform(0, 1, 300)
    whole = nms(boxes, scores, 0.5)
    monkeypatch.setattr(module, "_IOU_BLOCK", 700)  # 2 rows per block
    assert nms(boxes, scores, 0.5).tolist() == whole.tolist()
