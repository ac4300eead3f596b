"""The Jetson bundle: what TensorRT needs to build FP16 and INT8 engines on the device.

TensorRT cannot be installed on this host, so engines are built on the Jetson with the
bundled ``build.sh`` (``trtexec``); the INT8 engine comes from a symmetric INT8 QDQ ONNX
(explicit quantization: the scales are calibrated here and validated with onnxruntime).
``calibration.npy`` keeps the letterboxed calibration images (uint8, NCHW) for tools that
calibrate themselves. Where ``trtexec`` is on the PATH, the engines are built right away.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from workbench.prediction.api import load_uint8

TEMPLATES = Path(__file__).resolve().parent / "templates"


def write_bundle(folder: Path, calibration: list[str], size: int) -> dict[str, Any]:
    """Add the calibration batch, ``build.sh`` and ``run_trt.py`` to an export folder.

    Returns:
        The report's ``engine`` entry: whether engines were built here, and how to build them.
    """
    np.save(folder / "calibration.npy", load_uint8(calibration, size))
    for name in ("build.sh", "run_trt.py"):
        shutil.copy(TEMPLATES / name, folder / name)
    (folder / "build.sh").chmod(0o755)
    if shutil.which("trtexec") is None:
        return {"built": False, "how": "run ./build.sh on the Jetson (JetPack trtexec)",
                "note": "TensorRT is not available on this host; the FP32 and INT8 QDQ ONNX "
                        "were validated with onnxruntime"}
    proc = subprocess.run(["bash", str(folder / "build.sh")], capture_output=True, text=True,
                          check=False)
    engines = sorted(p.name for p in folder.glob("*.engine"))
    return {"built": proc.returncode == 0, "engines": engines, "log": proc.stdout[-2000:]
            + proc.stderr[-2000:]}
