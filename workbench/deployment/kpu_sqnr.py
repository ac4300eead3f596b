"""Where the K210's KPU loses accuracy, measured on the host (nncase 1.9 has no usable table).

The KPU puts a convolution's (BatchNorm-folded) weights on one uint8 grid for the whole layer
and every tensor it reads on one uint8 grid per tensor (min to max over the calibration
images). A tensor whose channels span very different ranges leaves most channels a few of the
256 levels, and the whole-tensor signal-to-noise ratio hides it, so each figure here is the
mean over channels of each channel's SQNR in dB (about 6 dB per bit), computed with
onnxruntime on the float model:

* ``weights`` rows: a convolution's weights on its per-layer grid; taking it off the KPU
  (:mod:`workbench.deployment.onnx_offload`) is its group;
* ``input`` rows: a tensor convolutions read, on its per-tensor grid; its group is the
  convolution writing it (through an activation) and the convolutions reading it, so that
  the tensor is never on a uint8 grid.

:func:`kpu_ranking` ranks, worst first; :func:`write_markdown` writes ``sensitivity.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Operators a convolution's output passes through unchanged in range before it is stored.
_ACTIVATIONS = ("Relu", "Clip", "Identity")


def channel_sqnr_db(x: np.ndarray, axis: int) -> float:
    """Mean over channels (``axis``) of each channel's SQNR on one uint8 grid, min to max."""
    lo, hi = float(x.min()), float(x.max())
    step = max(hi - lo, 1e-12) / 255.0
    q = np.clip(np.round((x - lo) / step), 0, 255) * step + lo
    other = tuple(i for i in range(x.ndim) if i != axis)
    signal = (x.astype(np.float64) ** 2).sum(axis=other)
    noise = ((x - q).astype(np.float64) ** 2).sum(axis=other)
    live = signal > 0
    if not live.any():
        return float("inf")
    return float(np.mean(10 * np.log10(signal[live] / np.maximum(noise[live], 1e-30))))


def kpu_ranking(onnx_path: Path, calibration: np.ndarray) -> list[dict[str, Any]]:
    """Every convolution's weights and every tensor convolutions read, worst SQNR first.

    Args:
        calibration: uint8 NCHW images (mapped to [0, 1] like the compiled model's input).

    Returns:
        ``[{"layer", "op", "kind", "sqnr_db", "group"}]``: ``layer`` a Conv node name
        (``kind`` ``weights``) or a tensor name (``kind`` ``input``), ``op`` the operator
        writing it, ``group`` the Conv nodes to take off the KPU for it.
    """
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv" and n.input[1] in weights]
    readers: dict[str, list[str]] = {}
    for conv in convs:
        readers.setdefault(conv.input[0], []).append(conv.name)
    inputs = {i.name for i in graph.input}
    tensors = [t for t in readers if t not in inputs]
    known = {o.name for o in graph.output}
    graph.output.extend(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None)
                        for t in tensors if t not in known)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    values: dict[str, list[np.ndarray]] = {t: [] for t in tensors}
    for k in range(len(calibration)):
        image = calibration[k:k + 1].astype(np.float32) / 255.0
        for name, value in zip(tensors, session.run(tensors, {feed: image}), strict=True):
            values[name].append(value)
    rows = [{"layer": conv.name, "op": "Conv", "kind": "weights",
             "sqnr_db": round(channel_sqnr_db(numpy_helper.to_array(weights[conv.input[1]]),
                                              0), 2),
             "group": [conv.name]} for conv in convs]
    for tensor in tensors:
        writer = _writer_conv(tensor, producer)
        rows.append({"layer": tensor, "op": producer[tensor].op_type, "kind": "input",
                     "sqnr_db": round(channel_sqnr_db(np.concatenate(values[tensor]), 1), 2),
                     "group": list(dict.fromkeys(([writer] if writer else [])
                                                 + readers[tensor]))})
    return sorted(rows, key=lambda r: r["sqnr_db"])


def _writer_conv(tensor: str, producer: dict[str, Any]) -> str | None:
    """The Conv node whose output, through activations, is ``tensor`` (None otherwise)."""
    while tensor in producer:
        node = producer[tensor]
        if node.op_type == "Conv":
            return str(node.name)
        if node.op_type not in _ACTIVATIONS:
            return None
        tensor = node.input[0]
    return None


def write_markdown(rows: list[dict[str, Any]], path: Path, images: int) -> Path:
    """``sensitivity.md``: every row, worst SQNR first."""
    lines = [f"# K210 KPU uint8 error per layer (host-side, mean per-channel SQNR over "
             f"{images} calibration images)", "",
             "*weights*: a convolution's weights on the KPU's per-layer grid; *input*: a "
             "tensor convolutions read, on its per-tensor grid. About 6 dB per bit; "
             "*off the KPU*: the convolutions `--mixed-precision` runs in float for it.", "",
             "| layer | kind | SQNR dB | off the KPU |", "|---|---|---|---|"]
    for r in rows:
        group = ", ".join(f"`{c}`" for c in r["group"])
        lines.append(f"| `{r['layer']}` | {r['kind']} | {r['sqnr_db']:.2f} | {group} |")
    path.write_text("\n".join(lines) + "\n")
    return path
