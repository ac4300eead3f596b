"""Perceptual hashing: a 64-bit difference hash (dHash) and Hamming distances, in numpy.

The image is reduced to 9 columns x 8 rows by area averaging (every output cell is the mean
of the input pixels it covers, weighted by the covered fraction), then each bit says whether a
cell is brighter than its left neighbour: 8 rows x 8 comparisons = 64 bits. Near-identical
frames (re-encoding noise, small brightness changes) differ in a few bits; different scenes in
about half of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: hash grid: ``HASH_ROWS`` rows of ``HASH_COLS + 1`` cells give ``HASH_ROWS * HASH_COLS`` bits.
HASH_ROWS = 8
HASH_COLS = 8
_BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))
_LUMA = np.array([0.299, 0.587, 0.114])


def area_weights(n_in: int, n_out: int) -> npt.NDArray[np.float64]:
    """``(n_out, n_in)`` matrix resizing a length-``n_in`` axis to ``n_out`` by area averaging.

    Output cell ``j`` covers input coordinates ``[j * n_in / n_out, (j + 1) * n_in / n_out)``;
    input pixel ``i`` covers ``[i, i + 1)`` and weighs by the overlap. Each row sums to 1, so
    upsampling (``n_in < n_out``) repeats pixels.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"axis sizes must be at least 1, got {n_in} -> {n_out}")
    scale = n_in / n_out
    lo = np.arange(n_out, dtype=np.float64)[:, None] * scale
    hi = lo + scale
    i = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, i + 1.0) - np.maximum(lo, i), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize_area(gray: npt.ArrayLike, rows: int, cols: int) -> npt.NDArray[np.float64]:
    """Area-average ``gray`` ``(H, W)`` to ``(rows, cols)`` float64.

    Equal to ``area_weights(H, rows) @ gray @ area_weights(W, cols).T``, computed without a
    matrix product when shrinking (block sums with ``np.add.reduceat`` plus the fractional
    edge rows), so it costs one pass over the pixels and no BLAS threads.
    """
    img = np.asarray(gray)
    if img.ndim != 2:
        raise ValueError(f"expected a (H, W) image, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"expected a non-empty image, got shape {img.shape}")
    return _area_axis0(_area_axis0(img, rows).T, cols).T


def _area_axis0(a: npt.NDArray[Any], m: int) -> npt.NDArray[np.float64]:
    """Area-average the first axis of ``a`` ``(n, k)`` to ``m`` cells: ``(m, k)`` float64."""
    n = a.shape[0]
    if n < m:  # growing: tiny input, the weight matrix is cheap
        out: npt.NDArray[np.float64] = area_weights(n, m) @ a.astype(np.float64)
        return out
    edges = np.arange(m + 1, dtype=np.float64) * (n / m)  # cell j covers [edges[j], edges[j+1])
    whole = np.minimum(np.floor(edges + 1e-9), n).astype(np.int64)
    frac = np.clip(edges - whole, 0.0, None)
    frac[-1] = 0.0
    # sums of the whole pixels from 0 up to each edge, then the fraction of the next pixel
    blocks = np.add.reduceat(a, whole[:-1], axis=0, dtype=np.float64)  # (m, k)
    upto = np.concatenate([np.zeros((1, a.shape[1])), np.cumsum(blocks, axis=0)])
    part = np.zeros((m + 1, a.shape[1]))
    inner = whole < n
    part[inner] = frac[inner, None] * a[whole[inner]]
    upto += part
    return (upto[1:] - upto[:-1]) / (n / m)


def to_gray(image: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``(H, W)`` luma of an ``(H, W)`` or ``(H, W, 3|4)`` image (ITU-R BT.601 weights)."""
    img = np.asarray(image)
    if img.ndim == 2:
        return img.astype(np.float64, copy=False)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        luma: npt.NDArray[np.float64] = img[..., :3].astype(np.float64) @ _LUMA
        return luma
    raise ValueError(f"expected a (H, W) or (H, W, 3|4) image, got shape {img.shape}")


def dhash(gray: npt.ArrayLike) -> np.uint64:
    """64-bit difference hash of an image.

    Args:
        gray: ``(H, W)`` uint8 or float image (``(H, W, 3|4)`` colour is reduced to luma).
            Any size, including smaller than the 9x8 hash grid.

    Returns:
        The hash; bit ``63 - (8 * r + c)`` is set when cell ``(r, c + 1)`` of the 9x8
        area-averaged image is brighter than cell ``(r, c)``.
    """
    small = resize_area(to_gray(gray), HASH_ROWS, HASH_COLS + 1)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1)
    return np.uint64(np.bitwise_or.reduce(np.where(bits, _BIT_WEIGHTS, np.uint64(0))))


def hamming(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Number of differing bits between 64-bit hashes, element-wise (broadcasting).

    Args:
        a: hashes, any shape (``np.uint64`` or non-negative integers below 2**64).
        b: hashes broadcastable against ``a``.

    Returns:
        ``int64`` array of the broadcast shape, values in 0..64 (a 0-d array for scalars).
    """
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    return np.bitwise_count(x).astype(np.int64)
