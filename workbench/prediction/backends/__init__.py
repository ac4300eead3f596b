"""Detector backends behind one :class:`~workbench.prediction.backends.base.Predictor` interface.

:data:`BACKENDS` maps the ``--backend`` names to factories ``(workspace, weights, imgsz, batch,
device) -> Predictor``. The factories import their toolchain (onnxruntime, torch) only when
called, so this module stays light. A backend is added with one :meth:`register` call. Facts:
``help``; ``fixed_size_onnx``: a ``.onnx`` model runs at the one input size it was exported at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ConfigError
from workbench.registry import Registry

if TYPE_CHECKING:
    from workbench.prediction.backends.base import Predictor
    from workbench.store.workspace import Workspace

#: ``(workspace, weights, imgsz or None, batch, device) -> Predictor``
BackendFactory = Callable[["Workspace", str, "int | None", int, str], "Predictor"]


def onnxruntime_predictor(ws: Workspace, weights: str, imgsz: int | None, batch: int,
                          device: str = "cpu") -> Predictor:
    """An ONNX graph on onnxruntime (CPU); a ``.pt`` is exported once to ``WS/.workbench/onnx``.

    Raises:
        ConfigError: ``imgsz`` differs from a given ``.onnx`` model's input size.
    """
    from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx

    if weights.endswith(".pt"):
        digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]
        out = ws.root / ".workbench" / "onnx" / f"{digest}-{imgsz or 'train'}-b{batch}.onnx"
        if not out.is_file():
            tmp = out.with_suffix(".tmp.onnx")
            export_onnx(weights, tmp, imgsz, batch=batch)
            tmp.replace(out)
        weights = str(out)
    predictor = OnnxPredictor(weights)
    if imgsz and imgsz != predictor.imgsz:
        raise ConfigError(f"{weights} takes {predictor.imgsz} px inputs; drop --imgsz or pass "
                          f"--imgsz {predictor.imgsz}")
    return predictor


def ultralytics_predictor(ws: Workspace, weights: str, imgsz: int | None, batch: int,
                          device: str = "cpu") -> Predictor:
    """A ``.pt`` run with torch on ``device`` (``cpu`` or a CUDA index).

    Raises:
        ConfigError: ``weights`` is not a ``.pt``.
    """
    if not weights.endswith(".pt"):
        raise ConfigError("the ultralytics backend needs a .pt; use --backend onnxruntime "
                          "for .onnx models")
    from workbench.prediction.backends.torch import TorchPredictor

    return TorchPredictor(weights, imgsz, device)


BACKENDS: Registry[BackendFactory] = Registry("backend")
BACKENDS.register("onnxruntime", onnxruntime_predictor, fixed_size_onnx=True,
                  help="onnxruntime on the CPU (a .pt is exported to ONNX once).")
BACKENDS.register("ultralytics", ultralytics_predictor, fixed_size_onnx=False,
                  help="torch with the Ultralytics model (.pt only), CPU or CUDA.")
