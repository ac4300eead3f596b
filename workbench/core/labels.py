"""Class names to class indices, vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def class_ids(labels: npt.ArrayLike, classes: Sequence[str]) -> npt.NDArray[np.int64]:
    """The index in ``classes`` of each label.

    Args:
        labels: ``(M,)`` class names.
        classes: the ``K`` class names, in index order.

    Returns:
        ``(M,)`` int64: the position of each label in ``classes`` (the first, should a name
        repeat), ``-1`` for a name not in ``classes``.
    """
    lab = np.asarray(labels, dtype=str).reshape(-1)
    if not len(classes) or not len(lab):
        return np.full(len(lab), -1, dtype=np.int64)
    names = np.asarray(list(classes), dtype=str)
    order = np.argsort(names, kind="stable")
    pos = np.minimum(np.searchsorted(names[order], lab), len(names) - 1)
    return np.where(names[order][pos] == lab, order[pos], -1).astype(np.int64)
