"""Take chosen convolutions off the K210's KPU, so that nncase 1.9 runs them in float32.

nncase 1.9 puts a convolution on the KPU (uint8 weights with one range per layer, uint8 input
and output with one range per tensor) only when its kernel is square 1x1 or 3x3 (dilation 1,
a plain or depthwise convolution, within the KPU's size limits); any other convolution stays
a float32 operator on the K210's CPU and its output is not put on a uint8 grid. nncase 1.9 has
no per-layer precision option, so :func:`offload_convolutions` rewrites the ONNX instead:

* each named 1x1 or 3x3 ``Conv`` becomes the equivalent 5x5 one (the kernel in the middle of
  zeros, the padding grown to match: onnxruntime's output is bit-identical);
* a ``Relu`` reading its output becomes ``Clip(0, FLT_MAX)``: nncase folds a Clip into the
  float convolution, while a separate Relu becomes a uint8 lookup table that puts the tensor
  back on a uint8 grid.

The CPU convolution is slower and its float weights and activations take more of the
K210's SRAM: the caller checks the memory budget of every such build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The kernel the KPU does not take (and the CPU convolution nncase keeps in float).
WIDE = 5
_CLIP_MIN, _CLIP_MAX = "offload_clip_min", "offload_clip_max"


def offload_convolutions(src: Path, dst: Path, names: list[str]) -> list[str]:
    """Write ``dst``: ``src`` with the ``Conv`` nodes named in ``names`` off the KPU.

    Returns:
        The names taken off (in ``names``' order): the 1x1 and 3x3 ones rewritten, and those
        the KPU would not take anyway. Names that are not ``Conv`` nodes are left out.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    wanted = set(names)
    done: set[str] = set()
    widened: set[str] = set()
    for node in graph.node:
        if node.op_type != "Conv" or node.name not in wanted:
            continue
        done.add(node.name)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = numpy_helper.to_array(weights[node.input[1]])
        size = kernel.shape[2]
        if kernel.shape[2] != kernel.shape[3] or size not in (1, 3):
            continue  # already a CPU convolution
        grow = (WIDE - size) // 2
        wide = np.zeros((*kernel.shape[:2], WIDE, WIDE), dtype=kernel.dtype)
        wide[:, :, grow:grow + size, grow:grow + size] = kernel
        name = f"{node.input[1]}_{WIDE}x{WIDE}"
        graph.initializer.append(numpy_helper.from_array(wide, name))
        node.input[1] = name
        attrs["kernel_shape"] = [WIDE, WIDE]
        attrs["pads"] = [p + grow for p in attrs.get("pads", [0, 0, 0, 0])]
        attrs.pop("auto_pad", None)
        del node.attribute[:]
        node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
        widened.update(node.output)
    clipped = False
    for k, node in enumerate(graph.node):
        if node.op_type == "Relu" and node.input[0] in widened:
            graph.node[k].CopyFrom(helper.make_node(
                "Clip", [node.input[0], _CLIP_MIN, _CLIP_MAX], list(node.output),
                name=node.name))
            clipped = True
    if clipped:
        graph.initializer.extend([
            numpy_helper.from_array(np.array(0.0, np.float32), _CLIP_MIN),
            numpy_helper.from_array(np.array(np.finfo(np.float32).max, np.float32), _CLIP_MAX)])
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.save(model, str(dst))
    return [n for n in names if n in done]
