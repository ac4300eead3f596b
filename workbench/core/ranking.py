"""Choosing images from per-image scores: top-N, class-balanced quotas, random baseline."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def top_n(scores: npt.ArrayLike, n: int, rng: np.random.Generator) -> IntArray:
    """Indices of the ``n`` highest scores, ties broken at random (reproducibly).

    Args:
        scores: ``(N,)``.
        n: how many (clipped to ``N``).
        rng: tie-break randomness.
    """
    s = np.asarray(scores, dtype=np.float64)
    n = min(max(n, 0), len(s))
    tie = rng.random(len(s))
    order = np.lexsort((tie, -s))
    return np.asarray(order[:n], dtype=np.int64)


def random_n(n_items: int, n: int, rng: np.random.Generator) -> IntArray:
    """``n`` distinct random indices of ``n_items`` (the baseline every strategy is compared to)."""
    return np.asarray(rng.permutation(n_items)[:min(max(n, 0), n_items)], dtype=np.int64)


def class_balanced(scores: npt.ArrayLike, image_class: npt.ArrayLike, n_classes: int, n: int,
                   rng: np.random.Generator) -> IntArray:
    """Fill equal per-class quotas with each class's most uncertain images.

    Args:
        scores: ``(N,)`` per-image scores.
        image_class: ``(N,)`` the image's dominant predicted class, ``-1`` for none.
        n_classes: ``C``.
        n: total to choose.

    Returns:
        Chosen indices: round-robin over classes (then the no-class group), each class's
        images in descending score; leftovers of exhausted classes go to the rest.
    """
    s = np.asarray(scores, dtype=np.float64)
    cls = np.asarray(image_class, dtype=np.int64)
    n = min(max(n, 0), len(s))
    queues = []
    for c in [*range(n_classes), -1]:
        members = np.flatnonzero(cls == c)
        if len(members):
            queues.append(members[top_n(s[members], len(members), rng)].tolist())
    chosen: list[int] = []
    pos = [0] * len(queues)
    while len(chosen) < n:
        progressed = False
        for q, queue in enumerate(queues):
            if pos[q] < len(queue) and len(chosen) < n:
                chosen.append(queue[pos[q]])
                pos[q] += 1
                progressed = True
        if not progressed:
            break
    return np.asarray(chosen, dtype=np.int64)
