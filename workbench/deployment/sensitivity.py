"""Per-layer INT8 sensitivity, measured end to end: one convolution quantized at a time, and
one convolution left in float at a time.

For each convolution of the model (in graph order, up to ``limit``) two models are made and
measured on the validation view against the FP32 model: *only this one quantized* (how much
this layer alone costs) and *all but this one quantized* (how much keeping it in float
recovers). It costs two calibrations and two evaluations per convolution, so it is opt-in
(``workbench export --sensitivity``) and written to ``sensitivity.md`` beside the report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.deployment.onnx_int8 import prepare, quantize_prepared

#: ``measure(model_path) -> (map50, cosine)`` on the validation view, against FP32.
Measure = Callable[[Path], tuple[float, float]]


def layer_table(fp32: Path, calibration: list[str], size: int, measure: Measure,
                map50_fp32: float, symmetric: bool = False, method: str = "minmax",
                limit: int | None = None) -> list[dict[str, Any]]:
    """One row per convolution: the loss with only it quantized and with only it in float.

    Args:
        fp32: the float model; ``calibration``: image paths; ``size``: the input size.
        measure: mAP50 and raw-output cosine of a model file.
        map50_fp32: the float model's mAP50 on the same view.
        symmetric: signed activations (TensorRT); ``method``: the calibration method.
        limit: only the first ``limit`` convolutions.

    Returns:
        ``[{"node", "only_quantized": {"map50", "drop_points", "cosine"},
        "left_float": {...}}]`` in graph order.
    """
    import onnx

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = prepare(fp32, work / "prepared.onnx")
        convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
        for k, node in enumerate(convs[:limit]):
            row: dict[str, Any] = {"node": node}
            for key, only, exclude in (("only_quantized", [node], None),
                                       ("left_float", None, [node])):
                path = quantize_prepared(prepared, fp32, work / f"{k}-{key}.onnx", calibration,
                                         size, symmetric, method=method, only=only,
                                         exclude=exclude)
                map50, cosine = measure(path)
                row[key] = {"map50": map50, "drop_points": round((map50_fp32 - map50) * 100, 2),
                            "cosine": cosine}
            rows.append(row)
    return rows


def write_markdown(rows: list[dict[str, Any]], path: Path, map50_fp32: float) -> Path:
    """``sensitivity.md``: the table, most costly layers first."""
    lines = [f"# INT8 sensitivity per convolution (FP32 mAP50 {map50_fp32:.4f})", "",
             "| convolution | only it INT8: loss (points) | cosine | all but it INT8: loss | "
             "cosine |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["only_quantized"]["drop_points"]):
        q, f = r["only_quantized"], r["left_float"]
        lines.append(f"| `{r['node']}` | {q['drop_points']:.2f} | {q['cosine']:.5f} | "
                     f"{f['drop_points']:.2f} | {f['cosine']:.5f} |")
    path.write_text("\n".join(lines) + "\n")
    return path
