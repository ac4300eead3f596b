"""ONNX Runtime static INT8 quantization (QDQ) of the convolutions, calibrated on images.

Only ``Conv`` nodes are quantized: the head's decode (sigmoid, box arithmetic, concat of
pixel boxes with 0..1 class scores) stays float, where one int8 scale for both would wipe
out the scores.
"""

from __future__ import annotations

import tempfile
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


def quantize_int8(fp32: Path, out: Path, calibration: list[str], size: int,
                  symmetric: bool = False) -> Path:
    """Write the INT8 QDQ model of ``fp32`` to ``out``, calibrated on ``calibration``.

    Args:
        fp32: the float model; ``out``: the quantized model.
        calibration: image paths; ``size``: the model's input size.
        symmetric: signed int8 activations with zero point 0, as TensorRT's explicit
            quantization requires (default: uint8 activations, best for ONNX Runtime).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnx.load(str(fp32)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out), _Reader(calibration, size, input_name),
                        quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                        per_channel=True,
                        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": symmetric,
                                       "WeightSymmetric": True})
    model = onnx.load(str(out))
    src = onnx.load(str(fp32))
    del model.metadata_props[:]
    model.metadata_props.extend(src.metadata_props)
    onnx.save(model, str(out))
    return out
