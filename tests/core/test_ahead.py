"""``core.ahead``: an iterator run ahead of its consumer in a worker thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.ahead import ahead


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers()), st.integers(min_value=1, max_value=4))
def test_items_arrive_in_order_and_all(items: list[int], depth: int) -> None:
    with ahead(iter(items), depth) as got:
        assert list(got) == items


def test_the_workers_error_is_raised_at_its_item() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad image")

    seen = []
    with pytest.raises(ValueError, match="bad image"), ahead(source(), 1) as got:
        for item in got:
            seen.append(item)
    assert seen == [1, 2]


def test_the_worker_stays_at_most_depth_ahead_and_stops_with_cleanup() -> None:
    made: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            for k in range(1000):
                made.append(k)
                yield k
        finally:
            closed.set()

    with ahead(source(), 2, "test-ahead") as got:
        assert next(got) == 0
        time.sleep(0.3)  # the worker fills the queue, then waits
        assert len(made) <= 1 + 2 + 1  # taken, queued, and one in hand
    assert closed.wait(5)  # leaving early closed the generator in the worker
    assert not any(t.name == "test-ahead" for t in threading.enumerate())
