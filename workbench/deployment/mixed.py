"""Accuracy-aware INT8: a calibration method picked on validation, sensitive layers in float.

Plain min-max INT8 can lose most of a model's accuracy when one activation has a few huge
values (a wide-range channel, an outlier): one per-tensor scale then leaves the rest of the
tensor a handful of levels. :func:`quantize_within_budget` quantizes every convolution, and
while the loss on the validation view is beyond ``max_drop`` it

1. tries the next calibration method (min-max, then percentile ranges that clip outliers,
   then entropy-minimizing ranges) and keeps the best on validation,
2. measures each quantized activation's own quantization error (:func:`activation_sqnr`:
   the signal-to-quantization-noise ratio of the FP32 activation against its int8 grid) and
   keeps the convolutions reading the worst ones in float, 1, 2, 4 … tensors at a time,
   until the loss is within the budget (or ``max_float_nodes`` is reached).

Everything tried is in the report: methods, the sensitivity table, each mixed-precision step,
the nodes kept in float and the loss before and after.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.deployment.onnx_int8 import prepare, quantize_prepared
from workbench.prediction.api import load_letterboxed

#: Calibration methods tried in order while the loss is beyond the budget.
METHODS = ("minmax", "percentile", "entropy")
#: Images the sensitivity analysis runs.
SENSITIVITY_IMAGES = 8


def activation_sqnr(prepared: Path, qdq: Path, images: list[str], size: int
                    ) -> list[dict[str, Any]]:
    """Each quantized activation's own quantization error, worst first.

    Args:
        prepared: the float model the QDQ model was made from (same tensor and node names).
        qdq: the QDQ model (its ``QuantizeLinear`` scales and zero points are used).
        images: image paths run through the float model; ``size``: its input size.

    Returns:
        ``[{"tensor", "sqnr_db", "nodes"}]``: the SQNR in dB of the activation against its
        int8 grid over ``images``, averaged over channels (higher is better; each bit is
        about 6 dB), and the convolutions that write or read it (all of them must stay in
        float for it to stay float), ascending by SQNR.
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    qmodel = onnx.load(str(qdq))
    inits = {i.name: numpy_helper.to_array(i) for i in qmodel.graph.initializer}
    grids: dict[str, tuple[float, int, np.dtype[Any]]] = {}
    for node in qmodel.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits:
            continue
        scale = inits.get(node.input[1])
        zero = inits.get(node.input[2]) if len(node.input) > 2 else None
        if scale is not None and scale.size == 1:
            grids[node.input[0]] = (float(scale), int(zero) if zero is not None else 0,
                                    zero.dtype if zero is not None else np.dtype(np.uint8))
    fmodel = onnx.load(str(prepared))
    readers: dict[str, list[str]] = {}  # the convolutions whose quantization puts it on a grid
    for node in fmodel.graph.node:
        if node.op_type != "Conv":
            continue
        if node.input[0] in grids:  # the activation it reads
            readers.setdefault(node.input[0], []).append(node.name)
        if node.output[0] in grids:  # its own output (the quantizer puts that on a grid too)
            readers.setdefault(node.output[0], []).append(node.name)
    names = sorted(readers)
    outputs = {o.name for o in fmodel.graph.output}
    fmodel.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None)
                               for t in names if t not in outputs)
    session = ort.InferenceSession(fmodel.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    signal: dict[str, Any] = dict.fromkeys(names, 0.0)
    noise: dict[str, Any] = dict.fromkeys(names, 0.0)
    for path in images:
        chw, _, _, _ = load_letterboxed(path, size)
        for t, x in zip(names, session.run(names, {input_name: chw[None]}), strict=True):
            step, offset, dtype = grids[t]
            bounds = np.iinfo(dtype)
            x = np.asarray(x, dtype=np.float64)
            grid = (np.clip(np.round(x / step) + offset, bounds.min, bounds.max) - offset) * step
            axes = (0, 2, 3) if x.ndim == 4 else tuple(range(x.ndim))  # per channel (N,C,H,W)
            signal[t] = signal[t] + np.square(x).sum(axis=axes)
            noise[t] = noise[t] + np.square(x - grid).sum(axis=axes)
    rows = [{"tensor": t, "sqnr_db": _mean_sqnr(signal[t], noise[t]), "nodes": readers[t]}
            for t in names]
    return sorted(rows, key=lambda r: r["sqnr_db"])


def _mean_sqnr(signal: Any, noise: Any) -> float:
    """Mean over channels of each channel's SQNR in dB (silent channels left out): one
    channel with a huge range starves the others of levels, which a whole-tensor ratio,
    dominated by that channel's energy, would hide."""
    s, n = np.atleast_1d(signal), np.atleast_1d(noise)
    live = s > 0
    if not live.any():
        return 0.0
    return round(float(np.mean(10 * np.log10(s[live] / np.maximum(n[live], 1e-30)))), 2)


def quantize_within_budget(fp32: Path, out: Path, calibration: list[str], size: int,
                           evaluate: Callable[[Path], float], map50_fp32: float,
                           max_drop: float, symmetric: bool = False, mixed: bool = True,
                           max_float_nodes: int = 16) -> tuple[Path, dict[str, Any]]:
    """Quantize ``fp32`` to ``out`` losing at most ``max_drop`` mAP50 points where it can.

    Args:
        fp32: the float model; ``out``: where the chosen INT8 model goes.
        calibration: calibration image paths; ``size``: the input size.
        evaluate: mAP50 (0..1) of a model file on the validation view.
        map50_fp32: the float model's mAP50 on that view.
        max_drop: the budget in mAP50 points.
        symmetric: signed, zero-point-0 activations (TensorRT).
        mixed: allow keeping convolutions in float.
        max_float_nodes: at most this many convolutions in float.

    Returns:
        ``(out, report)``: ``report`` holds ``method``, ``tried`` (per method: ``map50``,
        ``drop_points``), ``drop_before`` / ``drop_after`` (points), ``float_nodes``,
        ``steps`` (per mixed-precision step: ``float_nodes``, ``map50``, ``drop_points``)
        and ``sensitivity`` (the 10 worst activations of :func:`activation_sqnr`).
    """
    def drop(map50: float) -> float:
        return round((map50_fp32 - map50) * 100, 2)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = prepare(fp32, work / "prepared.onnx")
        tried: list[dict[str, Any]] = []
        best: tuple[str, Path, float] | None = None
        for method in METHODS:
            path = quantize_prepared(prepared, fp32, work / f"{method}.onnx", calibration,
                                     size, symmetric, method=method)
            score = evaluate(path)
            tried.append({"method": method, "map50": score, "drop_points": drop(score)})
            if best is None or score > best[2]:
                best = (method, path, score)
            if drop(score) <= max_drop:
                break
        assert best is not None
        method, chosen, score = best
        before = drop(score)
        steps: list[dict[str, Any]] = []
        float_nodes: list[str] = []
        sensitivity: list[dict[str, Any]] = []
        if mixed and before > max_drop:
            sensitivity = activation_sqnr(prepared, chosen, calibration[:SENSITIVITY_IMAGES],
                                          size)
            k = 1
            while k <= len(sensitivity):
                nodes = sorted({n for row in sensitivity[:k] for n in row["nodes"]})
                if len(nodes) > max_float_nodes:
                    break
                path = quantize_prepared(prepared, fp32, work / f"mixed-{k}.onnx", calibration,
                                         size, symmetric, exclude=nodes, method=method)
                candidate = evaluate(path)
                steps.append({"float_nodes": len(nodes), "map50": candidate,
                              "drop_points": drop(candidate)})
                if candidate > score:
                    chosen, score, float_nodes = path, candidate, nodes
                if drop(candidate) <= max_drop:
                    break
                k *= 2
        shutil.copy(chosen, out)
    return out, {"method": method, "tried": tried, "drop_before": before,
                 "drop_after": drop(score), "float_nodes": float_nodes, "steps": steps,
                 "sensitivity": sensitivity[:10]}
