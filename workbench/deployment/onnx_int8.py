"""ONNX Runtime static INT8 quantization (QDQ) of the convolutions, calibrated on images.

Only ``Conv`` nodes are quantized: the head's decode (sigmoid, box arithmetic, concat of
pixel boxes with 0..1 class scores) stays float, where one int8 scale for both would wipe
out the scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.prediction.api import load_letterboxed


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


def quantize_prepared(prepared: Path, fp32: Path, out: Path, calibration: list[str], size: int,
                      symmetric: bool = False, exclude: list[str] | None = None,
                      method: str = "minmax", only: list[str] | None = None) -> Path:
    """Write the INT8 QDQ model of a :func:`prepare`-d model to ``out``.

    Args:
        prepared: the pre-processed float model; ``fp32``: the original (its metadata is
            copied); ``out``: the quantized model.
        calibration: image paths; ``size``: the model's input size.
        symmetric: signed int8 activations with zero point 0, as TensorRT's explicit
            quantization requires (default: uint8 activations, best for ONNX Runtime).
        exclude: names of nodes left in float (mixed precision).
        only: quantize only these nodes (None: every convolution).
        method: ``minmax``, ``percentile`` (99.99 %) or ``entropy``.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                 "entropy": CalibrationMethod.Entropy}[method]
    input_name = onnx.load(str(fp32)).graph.input[0].name
    quantize_static(str(prepared), str(out), _Reader(calibration, size, input_name),
                    quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                    per_channel=True, nodes_to_exclude=list(exclude or []),
                    nodes_to_quantize=list(only or []),
                    activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=calibrate,
                    extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True,
                                   "CalibPercentile": 99.99})
    model = onnx.load(str(out))
    src = onnx.load(str(fp32))
    del model.metadata_props[:]
    model.metadata_props.extend(src.metadata_props)
    onnx.save(model, str(out))
    return out
