"""``bulk.object_ids``: box ids made in one go are valid, distinct ObjectIds of now."""

from __future__ import annotations

import datetime as dt

import pytest
from bson import ObjectId

from workbench.store.bulk import detections_doc, object_ids


@pytest.mark.parametrize("n", [0, 1, 7, 70_000])
def test_ids_are_distinct_objectids_stamped_now(n: int) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ids = object_ids(n)
    after = dt.datetime.now(dt.UTC)
    assert len(ids) == n == len(set(ids))
    assert all(isinstance(i, ObjectId) and len(i.binary) == 12 for i in ids)
    assert all(before <= i.generation_time <= after for i in ids)
    assert ObjectId.is_valid(str(ids[-1])) if ids else True


def test_calls_do_not_share_ids() -> None:
    many = [object_ids(1000) for _ in range(50)]
    assert len({i for ids in many for i in ids}) == 50_000


def test_detections_doc_takes_given_ids_or_makes_new_ones() -> None:
    ids = object_ids(2)
    doc = detections_doc(["a", "b"], [[0, 0, 1, 1], [0, 0, 0.5, 0.5]], ids, confidence=[1, 0.5])
    assert [d["_id"] for d in doc["detections"]] == ids
    assert [d["confidence"] for d in doc["detections"]] == [1, 0.5]
    fresh = detections_doc(["a"], [[0, 0, 1, 1]])
    assert fresh["detections"][0]["_id"] not in ids
