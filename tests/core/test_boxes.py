from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.core.boxes import (
    clip_xyxyn,
    cxcywhn_to_xyxyn,
    outside_image,
    xywhn_to_xyxyn,
    xyxy_to_xyxyn,
    xyxyn_to_xywhn,
)


@pytest.mark.parametrize(
    ("cxcywh", "xyxy"),
    [
        ([0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]),
        ([0.25, 0.75, 0.1, 0.2], [0.2, 0.65, 0.3, 0.85]),
        ([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]),
    ],
)
def test_cxcywhn_to_xyxyn(cxcywh: list[float], xyxy: list[float]) -> None:
    np.testing.assert_allclose(cxcywhn_to_xyxyn([cxcywh])[0], xyxy, atol=1e-12)


def test_xyxy_to_xyxyn_per_row_sizes() -> None:
    out = xyxy_to_xyxyn([[10, 20, 30, 40], [0, 0, 50, 50]], [100, 50], [200, 100])
    np.testing.assert_allclose(out, [[0.1, 0.1, 0.3, 0.2], [0, 0, 1, 0.5]])


@given(arrays(np.float64, (7, 4), elements=st.floats(0, 1)))
def test_xywhn_round_trip(boxes: np.ndarray) -> None:
    np.testing.assert_allclose(xywhn_to_xyxyn(xyxyn_to_xywhn(boxes)), boxes, atol=1e-12)


@pytest.mark.parametrize(
    ("box", "clipped", "rejected", "degenerate", "expected"),
    [
        ([0.1, 0.1, 0.5, 0.5], False, False, False, [0.1, 0.1, 0.5, 0.5]),
        ([-0.005, 0.1, 1.004, 0.5], True, False, False, [0.0, 0.1, 1.0, 0.5]),
        ([-0.02, 0.1, 0.5, 0.5], False, True, False, None),
        ([0.1, 0.1, 1.5, 0.5], False, True, False, None),
        ([0.3, 0.3, 0.3, 0.6], False, False, True, None),
        ([0.5, 0.5, 0.2, 0.9], False, False, True, None),
        ([np.nan, 0.1, 0.2, 0.3], False, True, False, None),
    ],
)
def test_clip_xyxyn(box: list[float], clipped: bool, rejected: bool, degenerate: bool,
                    expected: list[float] | None) -> None:
    r = clip_xyxyn([box])
    assert (bool(r.clipped[0]), bool(r.rejected[0]), bool(r.degenerate[0])) == (
        clipped, rejected, degenerate)
    if expected is not None:
        np.testing.assert_allclose(r.boxes[0], expected)


@given(arrays(np.float64, (20, 4), elements=st.floats(-0.5, 1.5)))
def test_clip_kept_boxes_lie_inside(boxes: np.ndarray) -> None:
    r = clip_xyxyn(boxes)
    kept = ~(r.rejected | r.degenerate)
    assert ((r.boxes[kept] >= 0) & (r.boxes[kept] <= 1)).all()
    assert not (r.clipped & r.rejected).any()


def test_outside_image() -> None:
    mask = outside_image([[0.1, 0.1, 0.2, 0.2], [0.9, 0.1, 0.2, 0.2], [0.1, 0.1, 0.0, 0.2]])
    assert mask.tolist() == [False, True, True]
