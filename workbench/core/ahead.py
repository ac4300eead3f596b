"""Run an iterator ahead of its consumer in a worker thread (a bounded queue between them).

Producer and consumer overlap: while the caller writes chunk ``k`` to the store, the worker
computes chunk ``k + 1`` (decoding, inference and parsing release the GIL). The queue holds at
most ``depth`` finished items, so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Failed:
    """The worker's exception, raised in the consumer."""

    error: BaseException


_DONE = object()


@contextlib.contextmanager
def ahead(items: Iterable[T], depth: int, name: str = "ahead") -> Iterator[Iterator[T]]:
    """``items``, produced by a worker thread at most ``depth`` items ahead of the caller.

    The worker's exception is raised in the caller, at the item where it happened. Leaving
    the ``with`` block early stops the worker (after the item it is computing) and closes a
    generator ``items`` in the worker, so its own clean-up runs.

    Args:
        items: the producer (iterated in the worker thread only).
        depth: finished items the queue may hold (>= 1).
        name: the worker thread's name.
    """
    box: queue.Queue[Any] = queue.Queue(max(1, depth))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def produced() -> Iterator[T]:
        while (item := box.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        yield produced()
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.1)
        worker.join()
