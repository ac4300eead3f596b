"""The one box geometry rule (:func:`workbench.core.boxes.check_geometry`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.core.boxes import (
    BOX_CLIPPED,
    BOX_NEGATIVE_SIZE,
    BOX_NON_FINITE,
    BOX_OK,
    BOX_OUTSIDE,
    BOX_ZERO_AREA,
    check_geometry,
    cxcywhn_to_xyxyn,
)

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("xyxyn", "wh", "verdict"),
    [
        ([0.1, 0.1, 0.5, 0.5], None, BOX_OK),
        ([-0.005, 0.1, 1.004, 0.5], None, BOX_CLIPPED),
        ([0.3, 0.3, 0.3, 0.6], None, BOX_ZERO_AREA),
        ([1.005, 0.1, 1.008, 0.5], None, BOX_ZERO_AREA),  # inside tolerance, empty once clipped
        ([0.5, 0.1, 0.2, 0.5], None, BOX_NEGATIVE_SIZE),  # x2 < x1
        ([0.1, 0.5, 0.2, 0.1], None, BOX_NEGATIVE_SIZE),
        ([0.1, 0.1, 1.5, 0.5], None, BOX_OUTSIDE),
        ([-0.02, 0.1, 0.5, 0.5], None, BOX_OUTSIDE),
        ([NAN, 0.1, 0.2, 0.3], None, BOX_NON_FINITE),
        ([0.1, 0.1, INF, 0.3], None, BOX_NON_FINITE),
        ([0.5, 0.5, 0.5, 0.5], [-1e-30, 0.1], BOX_NEGATIVE_SIZE),  # sign as written wins
        ([0.1, 0.1, 0.2, 0.2], [NAN, 0.1], BOX_NON_FINITE),
        ([0.1, 0.1, 2.0, 0.2], [-0.1, 0.1], BOX_NEGATIVE_SIZE),  # negative before outside
    ],
)
def test_verdicts(xyxyn: list[float], wh: list[float] | None, verdict: int) -> None:
    r = check_geometry([xyxyn], None if wh is None else [wh])
    assert int(r.verdict[0]) == verdict
    assert bool(r.keep[0]) == (verdict in (BOX_OK, BOX_CLIPPED))
    assert bool(r.rejected[0]) == (verdict >= BOX_NON_FINITE)


def test_yolo_negative_width_is_caught_before_conversion() -> None:
    cxcywh = np.array([[0.5, 0.5, -0.2, 0.2]])
    r = check_geometry(cxcywhn_to_xyxyn(cxcywh), cxcywh[:, 2:])
    assert int(r.verdict[0]) == BOX_NEGATIVE_SIZE


_floats = st.floats(-2.0, 3.0) | st.sampled_from(
    [0.0, 1.0, -0.01, 1.01, NAN, INF, -INF])


@given(arrays(np.float64, (16, 4), elements=_floats))
def test_invariants(boxes: np.ndarray) -> None:
    r = check_geometry(boxes)
    kept = r.keep
    # kept boxes lie inside the image and have a positive size
    assert ((r.boxes[kept] >= 0) & (r.boxes[kept] <= 1)).all()
    assert (r.boxes[kept, 2:] > r.boxes[kept, :2]).all()
    # ok boxes are unchanged
    ok = r.verdict == BOX_OK
    np.testing.assert_array_equal(r.boxes[ok], boxes[ok])
    # anything not finite is rejected as such
    bad = ~np.isfinite(boxes).all(axis=1)
    assert (r.verdict[bad] == BOX_NON_FINITE).all()
    assert not (r.keep & r.rejected).any()
    # clipping moves a corner by at most the tolerance
    clipped = r.verdict == BOX_CLIPPED
    assert (np.abs(r.boxes[clipped] - boxes[clipped]) <= 0.01 + 1e-12).all()
