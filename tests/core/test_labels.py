"""core.labels.class_ids: names to indices, unknown names -1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.labels import class_ids


@pytest.mark.parametrize(("labels", "classes", "expected"), [
    (["fish", "shark", "fish"], ["fish", "jellyfish", "shark"], [0, 2, 0]),
    (["ray", "fish"], ["fish", "shark"], [-1, 0]),
    ([], ["fish"], []),
    (["fish"], [], [-1]),
    (["b", "a"], ["b", "a"], [0, 1]),  # class order, not alphabetical
    (["fish"], ["fish", "fish"], [0]),  # a repeated name: its first position
    (["Fish", "fish "], ["fish"], [-1, -1]),  # exact names only
])
def test_table(labels: list[str], classes: list[str], expected: list[int]) -> None:
    got = class_ids(np.asarray(labels, dtype=str), classes)
    assert got.dtype == np.int64 and got.tolist() == expected


@given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=8, unique=True),
       st.lists(st.text(max_size=4), max_size=30))
def test_matches_a_dictionary_lookup(classes: list[str], labels: list[str]) -> None:
    lookup = {c: i for i, c in enumerate(classes)}
    assert class_ids(labels, classes).tolist() == [lookup.get(x, -1) for x in labels]
