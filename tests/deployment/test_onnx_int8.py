"""onnx_int8's options (QDQ / QOperator, weight scales, activation type, activation functions)
on a small hand-built ReLU + SiLU network and on the shipped checkpoint, against FP32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import DEMO, demo_images
from workbench.deployment.onnx_int8 import (
    conv_activation_nodes,
    finalize,
    prepare,
    quantize_prepared,
)
from workbench.errors import ConfigError
from workbench.prediction.api import load_batch

SIZE = 32
WEIGHTS = str(DEMO / "weights" / "yolov8n-224.pt")


def _net(path: Path) -> Path:
    """Conv-ReLU, Conv-SiLU (x * sigmoid(x)), Conv on a 3x32x32 input, random weights, with
    metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    shapes = [(8, 3, 3, 3), (8, 8, 3, 3), (4, 8, 1, 1)]
    inits, nodes, x = [], [], "images"
    for k, shape in enumerate(shapes):
        w = rng.normal(0, (2 / np.prod(shape[1:])) ** 0.5, shape).astype(np.float32)
        b = rng.normal(0, 0.1, shape[0]).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(b, f"b{k}")]
        nodes.append(helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [f"c{k}"], name=f"conv{k}",
                                      pads=[shape[2] // 2] * 4))
        x = f"c{k}"
        if k == 0:
            nodes.append(helper.make_node("Relu", [x], ["r0"], name="relu0"))
            x = "r0"
        elif k == 1:
            nodes.append(helper.make_node("Sigmoid", [x], ["s1"], name="sigmoid1"))
            nodes.append(helper.make_node("Mul", [x, "s1"], ["m1"], name="mul1"))
            x = "m1"
    graph = helper.make_graph(
        nodes, "act-net",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4, SIZE, SIZE])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "imgsz", str(SIZE)
    onnx.save(model, str(path))
    return path


def _ops(path: Path) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _cosine(a: Path, b: Path, x: np.ndarray) -> float:
    from workbench.deployment.speed import session

    outs = []
    for path in (a, b):
        s = session(str(path))
        name = s.get_inputs()[0].name
        outs.append(np.concatenate([s.run(None, {name: x[k:k + 1]})[0].ravel()
                                    for k in range(len(x))]).astype(np.float64))
    return float(outs[0] @ outs[1] / np.sqrt((outs[0] @ outs[0]) * (outs[1] @ outs[1])))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("act-net")
    fp32 = _net(work / "fp32.onnx")
    paths = [str(p) for p in demo_images("train", 6)]
    return {"work": work, "fp32": fp32, "prepared": prepare(fp32, work / "prepared.onnx"),
            "calibration": paths, "x": load_batch([str(p) for p in demo_images("valid", 3)],
                                                  SIZE)[0]}


def _quantize(net: dict[str, Any], name: str, **options: Any) -> Path:
    return quantize_prepared(net["prepared"], net["fp32"], net["work"] / f"{name}.onnx",
                             net["calibration"], SIZE, **options)


def test_default_is_qdq_with_per_channel_uint8(net: dict[str, Any]) -> None:
    import onnx
    from onnx import numpy_helper

    path = _quantize(net, "default")
    ops = _ops(path)
    assert ops["Conv"] == 3 and ops["Relu"] == 1 and ops["Sigmoid"] == 1
    assert "QLinearConv" not in ops
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weight_scales = [inits[n.input[1]] for n in model.graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in inits
                     and inits[n.input[0]].ndim == 4]
    assert len(weight_scales) == 3 and all(s.size > 1 for s in weight_scales)
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(z.dtype == np.uint8 for z in zero_points)
    assert {p.key: p.value for p in model.metadata_props} == {"imgsz": str(SIZE)}
    assert _cosine(net["fp32"], path, net["x"]) > 0.99


def test_per_tensor_weights_have_one_scale(net: dict[str, Any]) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(_quantize(net, "per-tensor", per_channel=False)))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weight_scales = [inits[n.input[1]] for n in model.graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in inits
                     and inits[n.input[0]].ndim == 4]
    assert len(weight_scales) == 3 and all(s.size == 1 for s in weight_scales)


def test_qoperator_writes_qlinearconv(net: dict[str, Any]) -> None:
    path = _quantize(net, "qop", fmt="qoperator")
    ops = _ops(path)
    assert ops.get("QLinearConv") == 3 and "Conv" not in ops
    assert _cosine(net["fp32"], path, net["x"]) > 0.99


def test_int8_activations(net: dict[str, Any]) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(_quantize(net, "s8", activations="int8")))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(z.dtype == np.int8 for z in zero_points)
    assert any(int(z) != 0 for z in zero_points)  # asymmetric, unlike symmetric=True


def test_conv_activation_nodes_finds_relu_and_silu(net: dict[str, Any]) -> None:
    import onnx

    assert conv_activation_nodes(onnx.load(str(net["prepared"]))) == {
        "conv0": ["relu0"], "conv1": ["sigmoid1", "mul1"]}


def _producers(path: Path) -> dict[str, str]:
    import onnx

    return {out: n.op_type for n in onnx.load(str(path)).graph.node for out in n.output}


def test_conv_activations_in_int8(net: dict[str, Any]) -> None:
    import onnx

    path = _quantize(net, "act-qdq", conv_activations=True)
    ops = _ops(path)
    assert "Relu" not in ops and ops["Sigmoid"] == 1 and ops["Mul"] == 1
    made = _producers(path)
    for node in onnx.load(str(path)).graph.node:  # the SiLU reads and writes int8 grids
        if node.op_type in ("Sigmoid", "Mul"):
            assert all(made[i] == "DequantizeLinear" for i in node.input)
    assert _cosine(net["fp32"], path, net["x"]) > 0.99
    qop = _quantize(net, "act-qop", fmt="qoperator", conv_activations=True)
    ops = _ops(qop)
    assert ops.get("QLinearSigmoid") == 1 and ops.get("QLinearMul") == 1
    assert not {"Relu", "Sigmoid", "Mul"} & set(ops)
    assert _cosine(net["fp32"], qop, net["x"]) > 0.99
    # TensorRT's symmetric int8 grid has no level for ReLU's clamp at 0: left as it was
    symmetric = _quantize(net, "act-sym", symmetric=True, conv_activations=True)
    assert _ops(symmetric)["Relu"] == 1
    # an activation whose convolution stays float stays float
    mixed = _quantize(net, "act-mixed", exclude=["conv0"], conv_activations=True)
    assert _ops(mixed)["Relu"] == 1 and _producers(mixed)["r0"] == "Relu"


def test_finalize_requantizes_the_chosen_model(net: dict[str, Any]) -> None:
    import shutil

    def score(path: Path) -> float:
        return _cosine(net["fp32"], path, net["x"])

    chosen = net["work"] / "chosen.onnx"
    shutil.copy(_quantize(net, "searched", exclude=["conv0"]), chosen)
    args = (net["fp32"], chosen, net["calibration"], SIZE)
    int8 = {"method": "minmax", "float_nodes": ["conv0"]}
    assert finalize(*args, int8, symmetric=True) == {"conv_activations": False,
                                                     "activation_nodes": 0}
    assert _ops(chosen)["Sigmoid"] == 1 and "QLinearConv" not in _ops(chosen)
    kept = finalize(*args, int8, evaluate=score, tolerance=-1.0)  # nothing can be that good
    assert not kept["conv_activations"] and kept["activation_nodes"] == 2
    assert _producers(chosen)["m1"] == "Mul"  # unchanged: the SiLU still float
    record = finalize(*args, int8, evaluate=score)
    assert record["conv_activations"] and record["map50_after"] > 0.99
    made = _producers(chosen)
    assert made["r0"] == "Relu"  # conv0 stayed float, and so did its ReLU
    assert made["m1_QuantizeLinear_Output"] == "QuantizeLinear"


def test_unknown_options_are_refused(net: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="format"):
        _quantize(net, "bad", fmt="qlinear")
    with pytest.raises(ConfigError, match="activation"):
        _quantize(net, "bad", activations="int4")
    with pytest.raises(ConfigError, match="symmetric"):
        _quantize(net, "bad", symmetric=True, activations="uint8")


def test_int8_kernel_note_reads_the_cpu_flags() -> None:
    from workbench.deployment.speed import int8_kernel_note

    assert int8_kernel_note({"sse2", "avx", "avx2", "avx512f", "avx512_vnni"}) is None
    assert int8_kernel_note({"sse2", "avx", "avx2", "amx_int8"}) is None
    assert "AVX2" in (int8_kernel_note({"sse2", "sse4_1", "avx"}) or "")
    assert "VNNI" in (int8_kernel_note({"sse2", "sse4_1", "avx", "avx2", "fma"}) or "")
    assert int8_kernel_note({"fp", "asimd"}) is None  # not x86


def test_latency_by_threads_times_every_model(net: dict[str, Any]) -> None:
    from workbench.deployment.speed import latency_by_threads

    int8 = _quantize(net, "timed")
    times = latency_by_threads({"fp32": str(net["fp32"]), "int8": str(int8)}, net["x"][:1],
                               (1, 2), runs=4, rounds=2)
    assert set(times) == {1, 2}
    assert all(set(t) == {"fp32", "int8"} and min(t.values()) > 0 for t in times.values())


@pytest.mark.slow
def test_qoperator_yolov8n_matches_fp32_on_demo_images(tmp_path: Path) -> None:
    from workbench.prediction.api import export_onnx

    fp32 = export_onnx(WEIGHTS, tmp_path / "fp32.onnx", 224)
    prepared = prepare(fp32, tmp_path / "prepared.onnx")
    calibration = [str(p) for p in demo_images("train", 8)]
    path = quantize_prepared(prepared, fp32, tmp_path / "qop.onnx", calibration, 224,
                             fmt="qoperator")
    ops = _ops(path)
    assert ops.get("QLinearConv") == 64 and "Conv" not in ops
    x = load_batch([str(p) for p in demo_images("valid", 4)], 224)[0]
    assert _cosine(fp32, path, x) > 0.99
    # finalize: the 57 SiLUs of the convolutions (not the head's decode) in int8
    qdq = quantize_prepared(prepared, fp32, tmp_path / "qdq.onnx", calibration, 224)
    record = finalize(fp32, qdq, calibration, 224, {"method": "minmax", "float_nodes": []})
    assert record == {"conv_activations": True, "activation_nodes": 114}
    made = _producers(qdq)
    import onnx

    muls = [n for n in onnx.load(str(qdq)).graph.node if n.op_type == "Mul"
            and all(made.get(i) == "DequantizeLinear" for i in n.input)]
    assert len(muls) == 57
    assert _cosine(fp32, qdq, x) > 0.99
