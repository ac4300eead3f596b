from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from tests.conftest import demo_images
from workbench.core.phash import area_weights, dhash, hamming, resize_area, to_gray


def _gray(n: int) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("L")) for p in demo_images("train", n)]


@pytest.mark.parametrize(
    ("a", "b", "bits"),
    [
        (0, 0, 0),
        (0, 1, 1),
        (0, 2**64 - 1, 64),
        (0xF0F0, 0x0F0F, 16),
        (2**63, 0, 1),
        (0xAAAAAAAAAAAAAAAA, 0x5555555555555555, 64),
    ],
)
def test_hamming_table(a: int, b: int, bits: int) -> None:
    assert int(hamming(np.uint64(a), np.uint64(b))) == bits


def test_hamming_broadcasts_to_a_distance_matrix() -> None:
    h = np.array([0, 1, 3, 2**64 - 1], dtype=np.uint64)
    d = hamming(h[:, None], h[None, :])
    assert d.dtype == np.int64 and d.shape == (4, 4)
    assert d[0].tolist() == [0, 1, 2, 64]
    np.testing.assert_array_equal(d, d.T)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.zeros((8, 9)), 0),  # flat: no cell brighter than its left neighbour
        (np.tile(np.arange(9.0), (8, 1)), 2**64 - 1),  # brighter to the right everywhere
        (np.tile(np.arange(9.0)[::-1], (8, 1)), 0),
        (np.tile(np.arange(90.0), (40, 1)), 2**64 - 1),  # same after area resizing
        # 1x3 upsampled to 8x9: cells repeat each pixel 3 times; only the steps between
        # pixels (comparisons 2 and 5 of each row) are brighter: 0b00100100 per row
        (np.arange(3.0)[None, :], 0x2424242424242424),
    ],
)
def test_dhash_table(image: np.ndarray, expected: int) -> None:
    assert int(dhash(image)) == expected


def test_dhash_bit_order_first_row_is_high_bits() -> None:
    img = np.zeros((8, 9))
    img[0, 1] = 1.0  # cell (0, 1) brighter than (0, 0): bit 63
    assert int(dhash(img)) == 1 << 63


def test_area_weights_are_exact_block_means() -> None:
    w = area_weights(4, 2)
    np.testing.assert_allclose(w, [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    np.testing.assert_allclose(area_weights(3, 2), [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]])
    img = np.arange(16 * 18, dtype=np.float64).reshape(16, 18)
    expected = img.reshape(8, 2, 9, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(resize_area(img, 8, 9), expected)


def test_dtype_and_colour_do_not_matter() -> None:
    gray = _gray(1)[0]
    assert dhash(gray) == dhash(gray.astype(np.float32))
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert dhash(rgb) == dhash(gray)
    np.testing.assert_allclose(to_gray(rgb), gray, atol=1e-9)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        dhash(np.zeros((2, 3, 5)))


def test_demo_images_identical_noisy_and_different() -> None:
    images = _gray(8)
    hashes = np.array([dhash(im) for im in images], dtype=np.uint64)
    rng = np.random.default_rng(0)
    for im, h in zip(images, hashes, strict=True):
        assert int(hamming(dhash(im.copy()), h)) == 0
        noisy = np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)
        assert int(hamming(dhash(noisy), h)) <= 4
        brighter = np.clip(im.astype(np.int16) + 20, 0, 255).astype(np.uint8)
        assert int(hamming(dhash(brighter), h)) <= 4
    d = hamming(hashes[:, None], hashes[None, :])
    off = d[~np.eye(len(images), dtype=bool)]
    assert off.min() >= 12, d


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint64, 16), arrays(np.uint64, 16))
def test_hamming_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    d = hamming(a, b)
    np.testing.assert_array_equal(d, hamming(b, a))
    assert ((d >= 0) & (d <= 64)).all()
    np.testing.assert_array_equal(hamming(a, a), 0)
    # the triangle inequality holds for Hamming distance
    assert (hamming(a, np.uint64(0)) <= hamming(a, b) + hamming(b, np.uint64(0))).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))),
       st.integers(8, 64), st.integers(9, 64), st.integers(0, 2**32 - 1))
def test_dhash_stable_and_small_noise_moves_few_bits(img: np.ndarray, rows: int, cols: int,
                                                       seed: int) -> None:
    assert dhash(img) == dhash(img.copy())
    assert 0 <= int(dhash(img)) < 2**64
    # a gradient brighter to the right: every bit set; noise far below one step keeps them
    smooth = np.add.outer(np.arange(rows) * 7.0, np.arange(cols) * 3.0)
    noisy = smooth + np.random.default_rng(seed).normal(0, 0.01, smooth.shape)
    assert int(dhash(smooth)) == 2**64 - 1
    assert int(hamming(dhash(noisy), dhash(smooth))) <= 2


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 70), st.integers(1, 70))),
       st.integers(1, 12), st.integers(1, 12))
def test_resize_area_equals_the_weight_matrix_product(img: np.ndarray, rows: int,
                                                      cols: int) -> None:
    expected = area_weights(img.shape[0], rows) @ img.astype(np.float64) \
        @ area_weights(img.shape[1], cols).T
    np.testing.assert_allclose(resize_area(img, rows, cols), expected, atol=1e-9)
