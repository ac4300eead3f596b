"""Rewrite channel slices of a convolution's output into convolutions of their own (K210).

YOLOv8's C2f block splits ``act(conv(x))`` in two along the channels. nncase 1.9 packs that
conv and the slice into one KPU function whose second half then reads the function's own
output buffer at a non-zero offset; the K210 runtime resolves a buffer only at its exact start
and fails with "Invalid argument" (in the simulator, and by the same code on the chip). Each
such slice is replaced by a convolution computing only those output channels (the matching
rows of the weights and bias) followed by a copy of the activation — exact in FP32, no extra
arithmetic, and the compiled model simulates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SINGLE_INPUT_ACTIVATIONS = ("Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish")


def unslice_convolutions(src: Path, dst: Path) -> int:
    """Write ``src`` with every channel slice of a Conv(+activation) output rewritten.

    Returns:
        How many slices were rewritten (0: ``dst`` is ``src`` with shapes inferred).
    """
    import onnx
    from onnx import helper
    from onnx import numpy_helper as nh

    model = onnx.load(str(src))
    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}

    def const(name: str) -> np.ndarray | None:
        if name in init:
            return np.asarray(nh.to_array(init[name]))
        node = producer.get(name)
        if node is not None and node.op_type == "Constant":
            return np.asarray(nh.to_array(node.attribute[0].t))
        return None

    def conv_and_activation(x: str) -> tuple[Any, list[Any],
                                             Callable[[str, str], list[Any]]] | None:
        act = producer.get(x)
        if act is None:
            return None
        if act.op_type == "Mul":  # SiLU: x * sigmoid(x)
            conv, sig = producer.get(act.input[0]), producer.get(act.input[1])
            if (conv is not None and sig is not None and conv.op_type == "Conv"
                    and sig.op_type == "Sigmoid" and sig.input[0] == conv.output[0]
                    and len(consumers[conv.output[0]]) == 2
                    and len(consumers[sig.output[0]]) == 1):
                return conv, [sig, act], lambda c, p: [
                    helper.make_node("Sigmoid", [c], [p + "_sig"], name=p + "_sig"),
                    helper.make_node("Mul", [c, p + "_sig"], [p], name=p + "_mul")]
            return None
        if act.op_type in SINGLE_INPUT_ACTIVATIONS:
            conv = producer.get(act.input[0])
            if conv is not None and conv.op_type == "Conv" and len(consumers[conv.output[0]]) == 1:
                def copy(c: str, p: str, a: Any = act) -> list[Any]:
                    node = helper.make_node(a.op_type, [c, *a.input[1:]], [p], name=p + "_act")
                    node.attribute.extend(a.attribute)
                    return [node]
                return conv, [act], copy
        return None

    removed: set[int] = set()
    inserted: dict[int, list[Any]] = {}
    count = 0
    for sl in [n for n in graph.node if n.op_type == "Slice"]:
        x = sl.input[0]
        found = conv_and_activation(x)
        if found is None or x in outputs or any(u.op_type != "Slice" for u in consumers[x]):
            continue
        conv, acts, activation = found
        start, end = const(sl.input[1]), const(sl.input[2])
        axes = const(sl.input[3]) if len(sl.input) > 3 and sl.input[3] else np.array([0])
        steps = const(sl.input[4]) if len(sl.input) > 4 and sl.input[4] else np.array([1])
        if (start is None or end is None or axes is None or steps is None
                or axes.tolist() not in ([1], [-3]) or steps.tolist() != [1]
                or len(conv.input) < 3 or conv.input[1] not in init or conv.input[2] not in init):
            continue
        weight = nh.to_array(init[conv.input[1]])
        bias = nh.to_array(init[conv.input[2]])
        s, e = int(start[0]), min(int(end[0]), weight.shape[0])
        p = sl.output[0]
        graph.initializer.extend([nh.from_array(weight[s:e].copy(), p + "_W"),
                                  nh.from_array(bias[s:e].copy(), p + "_b")])
        part = helper.make_node("Conv", [conv.input[0], p + "_W", p + "_b"], [p + "_conv"],
                                name=p + "_conv")
        part.attribute.extend(conv.attribute)
        inserted.setdefault(id(acts[-1]), []).extend([part, *activation(p + "_conv", p)])
        removed.update([id(sl), id(conv), *(id(a) for a in acts)])
        count += 1
    nodes = []
    for n in graph.node:
        nodes.extend(inserted.get(id(n), []))
        if id(n) not in removed:
            nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)  # nncase needs every value's shape
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return count
