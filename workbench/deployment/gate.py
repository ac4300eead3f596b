"""The accuracy gate of every export: a quantized model that loses too much is refused.

An export is *usable* when its mAP50 is within ``max_drop`` points of the FP32 model's on the
same validation images and its raw outputs match the FP32 ones with a cosine of at least
``min_cosine``. A refused export keeps its files (``report.json`` says why) but is not
recorded, and the command exits non-zero, unless ``--accept-drop`` says to keep it anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

#: What a refused export can try, in the order worth trying.
REMEDIES = ("mixed precision (keep the most sensitive layers in float)",
            "a larger or more varied calibration view (--calibration VIEW "
            "--calibration-count 300)",
            "FP16 instead of INT8 (--target onnx, or rknn with --calibration none)",
            "--accept-drop to keep this export anyway")


class AccuracyDropError(WorkbenchError):
    """An export lost more accuracy than its budget allows (its files are kept)."""

    exit_code = 4

    def __init__(self, target: str, gate: dict[str, Any], folder: Path) -> None:
        super().__init__(
            f"the {target} export is not usable: {'; '.join(gate['failures'])}. Its files "
            f"stay in {folder} for inspection (report.json); nothing was recorded. Try: "
            + "; ".join(REMEDIES))
        self.gate = gate
        self.folder = folder


def check(map50: float | None, map50_fp32: float | None, cosine: float | None,
          max_drop: float, min_cosine: float) -> dict[str, Any]:
    """Compare an export with its FP32 model.

    Args:
        map50: the export's mAP50 (0..1); ``map50_fp32``: the FP32 model's, same images.
        cosine: raw-output cosine similarity with the FP32 model (None: not measured).
        max_drop: the largest allowed loss in mAP50 points (0..100 scale).
        min_cosine: the smallest allowed cosine.

    Returns:
        ``{"drop_points", "max_drop", "cosine", "min_cosine", "passed", "failures"}``;
        ``failures`` are the sentences of the refusal.
    """
    drop = (None if map50 is None or map50_fp32 is None
            else round((map50_fp32 - map50) * 100, 2))
    failures = []
    if drop is not None and drop > max_drop:
        failures.append(f"it loses {drop:.1f} mAP50 points ({map50_fp32:.3f} → {map50:.3f}), "
                        f"more than --max-drop {max_drop:g}")
    if cosine is not None and cosine < min_cosine:
        failures.append(f"its raw outputs match FP32 with cosine {cosine:.4f}, below "
                        f"--min-cosine {min_cosine:g}")
    return {"drop_points": drop, "max_drop": max_drop, "cosine": cosine,
            "min_cosine": min_cosine, "passed": not failures, "failures": failures}
