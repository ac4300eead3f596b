"""Slicing flat per-box arrays by image."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def segments(sorted_index: npt.ArrayLike, keys: npt.ArrayLike) -> tuple[list[int], list[int]]:
    """Where each key's run starts and ends in an ascending index.

    Args:
        sorted_index: ``(M,)`` ascending image index of each box.
        keys: ``(K,)`` image indices to look up.

    Returns:
        ``starts`` and ``ends`` (Python lists of length ``K``): the boxes of ``keys[k]`` are
        ``sorted_index[starts[k]:ends[k]]``.
    """
    idx = np.asarray(sorted_index, dtype=np.int64)
    k = np.asarray(keys, dtype=np.int64)
    return (np.searchsorted(idx, k, side="left").tolist(),
            np.searchsorted(idx, k, side="right").tolist())
