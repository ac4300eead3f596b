"""Convolutions taken off the K210's KPU by an ONNX rewrite, and the host-side KPU ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.deployment.kpu_sqnr import kpu_ranking
from workbench.deployment.onnx_offload import offload_convolutions


def net(path: Path, gain: float = 1.0) -> Path:
    """images -> Conv a (3x3, stride 2) -> Relu -> Conv b (1x1) -> Relu -> Conv c (3x3).

    ``gain`` scales channel 0 of ``a``'s output and divides ``b``'s weights on it: the same
    function, one wide-range channel.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    wa = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    wb = rng.normal(size=(4, 4, 1, 1)).astype(np.float32)
    wc = rng.normal(size=(2, 4, 3, 3)).astype(np.float32)
    wa[0] *= gain
    wb[:, 0] /= gain
    inits = [numpy_helper.from_array(w, n) for w, n in ((wa, "wa"), (wb, "wb"), (wc, "wc"))]
    inits.append(numpy_helper.from_array(np.full(4, 0.1, np.float32), "ba"))
    nodes = [
        helper.make_node("Conv", ["images", "wa", "ba"], ["ca"], name="a", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["ca"], ["ra"], name="relu_a"),
        helper.make_node("Conv", ["ra", "wb"], ["cb"], name="b", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["cb"], ["rb"], name="relu_b"),
        helper.make_node("Conv", ["rb", "wc"], ["out"], name="c", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                     [1, 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2, 8, 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def images(count: int = 4) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (count, 3, 16, 16), dtype=np.uint8)


def test_offloaded_convolutions_are_5x5_with_clip_and_compute_the_same(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort
    from onnx import helper

    src = net(tmp_path / "net.onnx")
    dst = tmp_path / "off.onnx"
    assert offload_convolutions(src, dst, ["b", "relu_a", "a", "nope"]) == ["b", "a"]
    model = onnx.load(str(dst))
    onnx.checker.check_model(model)
    nodes = {n.name: n for n in model.graph.node}
    for name, pads in (("a", [2, 2, 2, 2]), ("b", [2, 2, 2, 2])):
        attrs = {a.name: helper.get_attribute_value(a) for a in nodes[name].attribute}
        assert attrs["kernel_shape"] == [5, 5] and attrs["pads"] == pads, (name, attrs)
    assert nodes["c"].input[1] == "wc"  # not named: untouched
    assert [nodes[n].op_type for n in ("relu_a", "relu_b")] == ["Clip", "Clip"]
    assert {i.name for i in model.graph.initializer} >= {"wa_5x5", "wb_5x5", "wc"}
    assert "wa" not in {i.name for i in model.graph.initializer}
    x = images(2).astype(np.float32) / 255.0
    for k in range(2):
        before = ort.InferenceSession(str(src)).run(None, {"images": x[k:k + 1]})[0]
        after = ort.InferenceSession(str(dst)).run(None, {"images": x[k:k + 1]})[0]
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_the_wide_range_channel_ranks_first_with_its_writer_and_reader(tmp_path: Path) -> None:
    plain = {r["layer"]: r for r in kpu_ranking(net(tmp_path / "plain.onnx"), images())}
    rows = kpu_ranking(net(tmp_path / "wide.onnx", gain=1000.0), images())
    # weights of a (the ×1000 row) and its output (the ×1000 channel) lose most
    assert {(r["layer"], r["kind"]) for r in rows[:2]} == {("a", "weights"), ("ra", "input")}
    wide = {r["layer"]: r for r in rows}
    assert wide["ra"]["sqnr_db"] < plain["ra"]["sqnr_db"] - 20
    assert wide["ra"]["group"] == ["a", "b"] and wide["a"]["group"] == ["a"]
    assert wide["rb"]["group"] == ["b", "c"] and wide["rb"]["op"] == "Relu"
    assert "images" not in wide  # the uint8 input is exact
