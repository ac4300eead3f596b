"""onnx_unslice: C2f's channel split rewritten into convolutions, exactly, for nncase 1.9."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEMO
from workbench.deployment.onnx_unslice import unslice_convolutions
from workbench.deployment.rawhead import export_raw_onnx, onnx_runner
from workbench.media.preprocess import load_batch

pytestmark = pytest.mark.slow


def test_yolov8n_slices_become_convolutions_with_identical_outputs(tmp_path: Path) -> None:
    import onnx

    raw = tmp_path / "raw.onnx"
    info = export_raw_onnx(str(DEMO / "weights" / "yolov8n-224.pt"), raw)
    ops = [n.op_type for n in onnx.load(str(raw)).graph.node]
    slices = ops.count("Slice")
    assert slices == 16  # two halves of each of YOLOv8n's eight C2f blocks
    out = tmp_path / "unsliced.onnx"
    assert unslice_convolutions(raw, out) == slices
    rewritten = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert "Slice" not in rewritten
    assert rewritten.count("Conv") == ops.count("Conv") + slices // 2  # one conv becomes two
    images = sorted((DEMO / "valid" / "images").glob("*.jpg"))[:3]
    x, _, _ = load_batch([str(p) for p in images], info.imgsz)
    before, after = onnx_runner(raw), onnx_runner(out)
    for k in range(len(x)):
        for a, b in zip(before(x[k:k + 1]), after(x[k:k + 1]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_a_plain_convolution_graph_is_left_as_it_is(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [weight])
    src = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(src))
    assert unslice_convolutions(src, tmp_path / "out.onnx") == 0
    assert [n.op_type for n in onnx.load(str(tmp_path / "out.onnx")).graph.node] == ["Conv",
                                                                                     "Relu"]
