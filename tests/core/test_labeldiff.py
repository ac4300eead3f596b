"""core.labeldiff: per-image added / removed / moved / relabeled / unchanged counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.labeldiff import diff_boxes

A = [0.1, 0.1, 0.3, 0.3]
B = [0.5, 0.5, 0.9, 0.8]
A_SHIFTED = [0.11, 0.1, 0.31, 0.3]  # IoU with A ~0.9


@pytest.mark.parametrize(("old", "new", "expected"), [
    # (image, label, box) rows; expected per image 0: added, removed, moved, relabeled, unchanged
    ([(0, "fish", A)], [(0, "fish", A)], (0, 0, 0, 0, 1)),
    ([(0, "fish", A)], [(0, "fish", A_SHIFTED)], (0, 0, 1, 0, 0)),
    ([(0, "fish", A)], [(0, "shark", A)], (0, 0, 0, 1, 0)),
    ([(0, "fish", A)], [], (0, 1, 0, 0, 0)),
    ([], [(0, "fish", A)], (1, 0, 0, 0, 0)),
    ([(0, "fish", A)], [(0, "fish", B)], (1, 1, 0, 0, 0)),  # no overlap: remove + add
    ([(0, "fish", A), (0, "fish", A)], [(0, "fish", A), (0, "fish", A)], (0, 0, 0, 0, 2)),
    ([(0, "fish", A), (0, "shark", A)], [(0, "shark", A), (0, "fish", A)], (0, 0, 0, 0, 2)),
    ([(0, "fish", A), (0, "fish", B)], [(0, "fish", B), (0, "shark", A_SHIFTED)],
     (0, 0, 0, 1, 1)),
])
def test_single_image_cases(old: list, new: list, expected: tuple) -> None:
    def cols(rows: list) -> tuple:
        return ([r[0] for r in rows], [r[1] for r in rows],
                np.array([r[2] for r in rows], dtype=float).reshape(-1, 4))

    d = diff_boxes(*cols(old), *cols(new), n_images=1)
    assert (d.added[0], d.removed[0], d.moved[0], d.relabeled[0], d.unchanged[0]) == expected
    assert bool(d.changed[0]) == (expected[4] != len(old) or expected[:4] != (0, 0, 0, 0))


def test_boxes_only_match_within_their_image() -> None:
    d = diff_boxes([0], ["fish"], [A], [1], ["fish"], [A], n_images=3)
    assert d.removed.tolist() == [1, 0, 0]
    assert d.added.tolist() == [0, 1, 0]
    assert d.changed.tolist() == [True, True, False]


def test_tolerance_separates_moved_from_unchanged() -> None:
    moved = [A[0] + 2e-6, *A[1:]]
    same = [A[0] + 5e-7, *A[1:]]
    assert diff_boxes([0], ["f"], [A], [0], ["f"], [moved], 1).moved[0] == 1
    assert diff_boxes([0], ["f"], [A], [0], ["f"], [same], 1).unchanged[0] == 1


boxes = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", "c"]),
                           st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.05, 0.2),
                           st.floats(0.05, 0.2)), max_size=30)


def _arrays(rows: list) -> tuple:
    xyxy = np.array([[x, y, x + w, y + h] for _, _, x, y, w, h in rows]).reshape(-1, 4)
    return [r[0] for r in rows], [r[1] for r in rows], xyxy


@settings(max_examples=60, deadline=None)
@given(boxes, st.randoms())
def test_a_set_against_a_shuffle_of_itself_is_unchanged(rows: list, rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    d = diff_boxes(*_arrays(rows), *_arrays(shuffled), n_images=5)
    assert d.unchanged.sum() == len(rows)
    assert not d.changed.any()


@settings(max_examples=60, deadline=None)
@given(boxes, boxes)
def test_counts_account_for_every_box(old: list, new: list) -> None:
    d = diff_boxes(*_arrays(old), *_arrays(new), n_images=5)
    matched = d.moved + d.relabeled + d.unchanged
    assert (matched + d.removed).sum() == len(old)
    assert (matched + d.added).sum() == len(new)
