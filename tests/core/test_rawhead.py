"""core.rawhead: the host decode of raw head maps, checked by hand-made cells."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.rawhead import anchor_grid, decode_raw_maps


def test_anchor_grid_is_level_after_level_row_major() -> None:
    centres, stride = anchor_grid([(2, 3), (1, 1)], [8, 16])
    assert centres.tolist() == [[0.5, 0.5], [1.5, 0.5], [2.5, 0.5],
                                [0.5, 1.5], [1.5, 1.5], [2.5, 1.5], [0.5, 0.5]]
    assert stride.tolist() == [8] * 6 + [16]


@pytest.mark.parametrize(("reg_max", "bins", "distance"), [
    (1, [2.0], 2.0),                      # the map holds the distance itself
    (4, [0.0, 0.0, 0.0, 0.0], 1.5),       # uniform over 0..3 -> mean 1.5
    (4, [-50.0, -50.0, 50.0, -50.0], 2.0),  # one bin dominates
])
def test_one_cell_decodes_to_the_expected_box(reg_max: int, bins: list[float],
                                              distance: float) -> None:
    n_classes = 2
    cell = np.zeros((1, 4 * reg_max + n_classes, 1, 1), dtype=np.float32)
    for side in range(4):
        cell[0, side * reg_max:(side + 1) * reg_max, 0, 0] = bins
    cell[0, 4 * reg_max:, 0, 0] = [0.0, np.log(3.0)]  # sigmoid: 0.5, 0.75
    out = decode_raw_maps([cell], [8.0], reg_max)
    assert out.shape == (1, 4 + n_classes, 1)
    cx = cy = 0.5 * 8
    w = h = 2 * distance * 8
    np.testing.assert_allclose(out[0, :, 0], [cx, cy, w, h, 0.5, 0.75], rtol=1e-5)


def test_levels_and_batch_are_concatenated_in_anchor_order() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 4 * 16 + 3, 4, 4)).astype(np.float32)
    b = rng.normal(size=(2, 4 * 16 + 3, 2, 2)).astype(np.float32)
    out = decode_raw_maps([a, b], [8.0, 16.0], 16)
    assert out.shape == (2, 7, 20)
    alone = decode_raw_maps([b[1:]], [16.0], 16)
    np.testing.assert_allclose(out[1, :, 16:], alone[0], rtol=1e-6)
    assert np.all((out[:, 4:] > 0) & (out[:, 4:] < 1))
