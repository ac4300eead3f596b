"""ONNX Runtime static INT8 quantization of the convolutions, calibrated on images.

Only ``Conv`` nodes are quantized — and, with ``conv_activations``, the activation function
right after a quantized one (ReLU, SiLU): the head's decode (sigmoid, box arithmetic, concat
of pixel boxes with 0..1 class scores) stays float, where one int8 scale for both would wipe
out the scores.

The format is QDQ (``QuantizeLinear``/``DequantizeLinear`` pairs around float operators, which
ONNX Runtime fuses into int8 kernels when it loads the model) with uint8 activations and
per-channel int8 weights; ``fmt="qoperator"`` writes the int8 operators (``QLinearConv``)
themselves, at the same speed. What costs time on x86 is elsewhere
(``benchmarks/bench_int8_speed.py``, docs/int8.md "INT8 speed on the host"): signed int8
activations (ONNX Runtime's x86 kernels are written for uint8 ones), the float round trip of
each convolution's activation function, and CPUs without AVX2 or VNNI.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.prediction.api import load_letterboxed

#: ``fmt`` values of :func:`quantize_prepared`.
FORMATS = ("qdq", "qoperator")
#: ``activations`` values of :func:`quantize_prepared`.
ACTIVATIONS = ("uint8", "int8")
#: ``method`` values of :func:`quantize_prepared`.
METHODS = ("minmax", "percentile", "entropy")
#: mAP50 (0..1) :func:`finalize` may lose to its int8 activation functions before it keeps
#: the searched model instead.
FINALIZE_TOLERANCE = 0.002


class _Reader:
    """Feeds calibration images one by one, letterboxed like inference."""

    def __init__(self, paths: list[str], size: int, input_name: str) -> None:
        self.paths = iter(paths)
        self.size = size
        self.input_name = input_name

    def get_next(self) -> dict[str, Any] | None:
        path = next(self.paths, None)
        if path is None:
            return None
        chw, _, _, _ = load_letterboxed(path, self.size)
        return {self.input_name: chw[None]}

    def rewind(self) -> None:  # part of the reader protocol; one pass is enough here
        pass


def prepare(fp32: Path, out: Path) -> Path:
    """ONNX Runtime's pre-processing (shape inference, folding) of ``fp32`` into ``out``; its
    node names are the ones :func:`quantize_prepared`'s ``exclude`` refers to."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(fp32), str(out), skip_symbolic_shape=True)
    return out


def conv_activation_nodes(model: Any) -> dict[str, list[str]]:
    """Each convolution's activation function in an ONNX ``model`` (a ``ModelProto``):
    conv name -> the ``Relu``, or the ``Sigmoid`` and ``Mul`` of a SiLU (``x * sigmoid(x)``),
    that read its output. Convolutions without one are left out."""
    producer = {out: node for node in model.graph.node for out in node.output}
    found: dict[str, list[str]] = {}
    for node in model.graph.node:
        conv = producer.get(node.input[0]) if node.input else None
        if node.op_type == "Relu" and conv is not None and conv.op_type == "Conv":
            found.setdefault(conv.name, []).append(node.name)
        if node.op_type == "Mul" and len(node.input) == 2:
            for a, b in (node.input, node.input[::-1]):
                conv, sigmoid = producer.get(a), producer.get(b)
                if (conv is not None and sigmoid is not None and conv.op_type == "Conv"
                        and sigmoid.op_type == "Sigmoid" and sigmoid.input[0] == a):
                    found.setdefault(conv.name, []).extend([sigmoid.name, node.name])
                    break
    return found


def quantize_prepared(prepared: Path, fp32: Path, out: Path, calibration: list[str], size: int,
                      symmetric: bool = False, exclude: list[str] | None = None,
                      method: str = "minmax", only: list[str] | None = None, *,
                      fmt: str = "qdq", per_channel: bool = True,
                      activations: str | None = None, conv_activations: bool = False,
                      reduce_range: bool = False) -> Path:
    """Write the INT8 model of a :func:`prepare`-d model to ``out``.

    Args:
        prepared: the pre-processed float model; ``fp32``: the original (its metadata is
            copied); ``out``: the quantized model.
        calibration: image paths; ``size``: the model's input size.
        symmetric: signed int8 activations with zero point 0, as TensorRT's explicit
            quantization requires (default: asymmetric ``activations``).
        exclude: names of nodes left in float (mixed precision).
        only: quantize only these nodes (None: every convolution).
        method: ``minmax``, ``percentile`` (99.99 %) or ``entropy``.
        fmt: ``qdq`` (QuantizeLinear/DequantizeLinear pairs; what TensorRT reads and what
            :func:`~workbench.deployment.mixed.activation_sqnr` reads its scales from) or
            ``qoperator`` (``QLinearConv`` and friends).
        per_channel: one weight scale per output channel (else one per weight tensor).
        activations: ``uint8`` or ``int8`` for asymmetric activations (None: ``uint8``,
            or ``int8`` when ``symmetric``); ONNX Runtime's x86 kernels are 1.5-5x slower
            with ``int8``.
        conv_activations: also quantize the activation function of every quantized
            convolution (:func:`conv_activation_nodes`): a ReLU disappears (its clamp at 0
            is the uint8 grid's zero point), a SiLU runs as int8 Sigmoid and Mul, and the
            float round trip between the convolution's and the activation's grids goes;
            asymmetric activations only (ignored when ``symmetric``). Mixed-precision
            search quantizes without it (its per-tensor analysis reads the convolutions'
            grids); :func:`finalize` applies it to the chosen model.
        reduce_range: 7-bit weights, against the int16 saturation of x86 CPUs without VNNI.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if fmt not in FORMATS:
        raise ConfigError(f"unknown INT8 format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r} "
                          f"(expected one of {', '.join(METHODS)})")
    act = activations or ("int8" if symmetric else "uint8")
    if act not in ACTIVATIONS:
        raise ConfigError(f"unknown activation type {act!r} "
                          f"(expected one of {', '.join(ACTIVATIONS)})")
    if symmetric and act != "int8":
        raise ConfigError("symmetric activations are int8 (TensorRT's explicit quantization)")
    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                 "entropy": CalibrationMethod.Entropy}[method]
    op_types, nodes = ["Conv"], list(only or [])
    if conv_activations and not symmetric:
        model = onnx.load(str(prepared))
        skip = set(exclude or [])
        convs = [n.name for n in model.graph.node if n.op_type == "Conv"
                 and n.name not in skip and (not only or n.name in only)]
        acts = conv_activation_nodes(model)
        op_types = ["Conv", "Relu", "Sigmoid", "Mul"]
        nodes = convs + [a for conv in convs for a in acts.get(conv, []) if a not in skip]
    input_name = onnx.load(str(fp32)).graph.input[0].name
    quantize_static(str(prepared), str(out), _Reader(calibration, size, input_name),
                    quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                    op_types_to_quantize=op_types, per_channel=per_channel,
                    reduce_range=reduce_range, nodes_to_exclude=list(exclude or []),
                    nodes_to_quantize=nodes,
                    activation_type=QuantType.QInt8 if act == "int8" else QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=calibrate,
                    extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True,
                                   "CalibPercentile": 99.99})
    _copy_metadata(fp32, out)
    return out


def finalize(fp32: Path, model: Path, calibration: list[str], size: int,
             int8: dict[str, Any], symmetric: bool = False,
             evaluate: Callable[[Path], float] | None = None,
             tolerance: float = FINALIZE_TOLERANCE) -> dict[str, Any]:
    """Re-quantize a chosen INT8 model in place with its activation functions in int8.

    The mixed-precision search (:func:`~workbench.deployment.mixed.quantize_within_budget`)
    quantizes convolutions only; this writes the same model — same calibration method, same
    convolutions in float — with ``conv_activations``, which on x86 saves the float round
    trip after every convolution (one thread, this host: micro-relu 0.48x -> 0.41x of FP32's
    latency, yolov8n 0.72x -> 0.57x; faster on every x86 instruction set measured, same
    mAP50 within noise). TensorRT's symmetric model is left as it is.

    Args:
        fp32: the float model; ``model``: the chosen INT8 model (replaced in place).
        calibration: the calibration images; ``size``: the input size.
        int8: the search's report (``method``, ``float_nodes``).
        symmetric: the model has TensorRT's symmetric activations (left unchanged).
        evaluate: mAP50 (0..1) of a model file on the validation view: when given, the new
            model is kept only if it loses at most ``tolerance`` against the searched one.

    Returns:
        ``{"conv_activations": bool, "activation_nodes": int}`` plus, with ``evaluate``,
        ``map50_before`` and ``map50_after``; ``conv_activations`` says whether ``model``
        now has them in int8.
    """
    import onnx

    record: dict[str, Any] = {"conv_activations": False, "activation_nodes": 0}
    if symmetric:
        return record
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = prepare(fp32, work / "prepared.onnx")
        skip = set(int8.get("float_nodes") or [])
        acts = conv_activation_nodes(onnx.load(str(prepared)))
        record["activation_nodes"] = sum(len(v) for k, v in acts.items() if k not in skip)
        if not record["activation_nodes"]:
            return record
        candidate = quantize_prepared(prepared, fp32, work / "final.onnx", calibration, size,
                                      exclude=sorted(skip), method=int8.get("method", "minmax"),
                                      conv_activations=True)
        if evaluate is not None:
            record["map50_before"], record["map50_after"] = evaluate(model), evaluate(candidate)
            if record["map50_after"] < record["map50_before"] - tolerance:
                return record
        shutil.copy(candidate, model)
        record["conv_activations"] = True
    return record


def _copy_metadata(src: Path, out: Path) -> None:
    """Replace ``out``'s metadata (class names, input size) with ``src``'s."""
    import onnx

    model = onnx.load(str(out))
    del model.metadata_props[:]
    model.metadata_props.extend(onnx.load(str(src)).metadata_props)
    onnx.save(model, str(out))
