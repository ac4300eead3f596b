"""nncase's quant_error.csv read, ranked by own loss and grouped on a small ONNX graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.deployment.quant_errors import (
    int16_groups,
    parse_quant_error,
    worst_first,
    write_markdown,
)
from workbench.errors import ToolchainError

#: The layout nncase 2.11 writes: the preprocessed input, then weights and activations.
TABLE = """name, cosine_error, mre_error
images_DivStd, 1, 0
w0, 0.99999136, 0.004144799
t0, 0.9999551, 0.025975442
w1, 0.99999154, 0.0042019202
t1, 0.37916115, 1.1839805
w2, 0.9999906, 0.004352679
t2, 0.29003105, 1.1200795
"""


def chain(path: Path) -> Path:
    """images -> Conv(w0) -> Relu t0 -> Conv(w1) -> Relu t1 -> Conv(w2) -> Relu t2."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "images"
    for k in range(3):
        inits.append(numpy_helper.from_array(np.ones((4, 4 if k else 3, 3, 3), np.float32),
                                             f"w{k}"))
        nodes.append(helper.make_node("Conv", [x, f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{k}"], [f"t{k}"]))
        x = f"t{k}"
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                       [1, 3, 8, 8])],
        [helper.make_tensor_value_info("t2", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    onnx.save(helper.make_model(graph), path)
    return path


def test_the_tensor_that_loses_most_comes_first_with_its_writer(tmp_path: Path) -> None:
    onnx_path = chain(tmp_path / "chain.onnx")
    cosines = parse_quant_error(TABLE)
    assert cosines["t1"] == pytest.approx(0.37916115) and len(cosines) == 7
    rows = worst_first(cosines, onnx_path)
    # weights and the preprocessed input are not ranked; t2 is worse than t1 in total but
    # loses less itself
    assert [r["layer"] for r in rows] == ["t1", "t2", "t0"]
    assert rows[0]["own_drop"] == pytest.approx(0.9999551 - 0.37916115, abs=1e-6)
    assert rows[0]["inputs_cosine"] == pytest.approx(0.9999551) and rows[0]["op"] == "Relu"
    assert rows[2]["inputs_cosine"] == 1.0  # the model input is exact
    groups = int16_groups(onnx_path, [r["layer"] for r in rows], set(cosines))
    assert groups == {"t1": ["t1", "w1", "t0"], "t2": ["t2", "w2", "t1"], "t0": ["t0", "w0"]}
    text = write_markdown(rows, tmp_path / "sensitivity.md", 16).read_text()
    assert "16 calibration images" in text
    assert text.splitlines()[6].startswith("| `t1` | Relu | 0.62079 |")


def test_another_layout_is_refused() -> None:
    with pytest.raises(ToolchainError, match=r"quant_error\.csv"):
        parse_quant_error("tensor;cosine\nt0;0.5\n")
