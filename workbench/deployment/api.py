"""The export capability's public surface: export to a target, benchmark, toolchains.

Light at import (configs, results and the target registry); the verbs import the heavy
modules (onnx, onnxruntime, torch) when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.deployment.config import (
    BenchmarkConfig,
    BenchmarkResult,
    Budget,
    ExportConfig,
    ExportResult,
)
from workbench.deployment.targets import RKNN_PLATFORMS, TARGETS, TargetSpec, side_toolchains
from workbench.deployment.thresholds import markdown as thresholds_markdown
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.core.types import Predictions
    from workbench.deployment.toolchains import Toolchain
    from workbench.store.workspace import Workspace

__all__ = ["RKNN_PLATFORMS", "TARGETS", "BenchmarkConfig", "BenchmarkResult", "Budget",
           "ExportConfig", "ExportResult", "TargetSpec", "benchmark", "export", "export_model",
           "install_toolchain", "predict_onnx", "side_toolchains", "thresholds_markdown",
           "toolchain_status"]


@lock.writes
def export(ws: Workspace, config: ExportConfig) -> ExportResult:
    """Export ``config.run`` to ``config.target``, measure it, write its folder, record it.

    Raises:
        ConfigError: bad views or options; ToolchainError: a missing vendor toolchain;
        BudgetError: a K210 model that does not fit.
    """
    from workbench.deployment.exporting import export_model as run_export

    return ExportResult.from_report(run_export(ws, config))


def export_model(ws: Workspace, config: ExportConfig) -> dict[str, Any]:
    """:func:`export` as the report dict (what ``report.json`` holds)."""
    return export(ws, config).to_dict()


def benchmark(ws: Workspace, config: BenchmarkConfig) -> BenchmarkResult:
    """Compare exported models: mAP50, latency, FPS, memory, size (see ``export.benchmark``)."""
    from workbench.deployment.benchmark import run_benchmark

    return run_benchmark(ws, config)


def toolchain_status() -> list[Toolchain]:
    """One row per toolchain: found (with versions) or what to install."""
    from workbench.deployment.toolchains import status

    return status()


def install_toolchain(name: str, force: bool = False,
                      log: Callable[[str], None] = print) -> Path:
    """Build (or reuse) the side environment ``name`` (one of :func:`side_toolchains`).

    Raises:
        UnknownNameError: not a side environment; ToolchainError: the build failed.
    """
    from workbench.deployment.toolchains import install

    return install(name, force=force, log=log)


def predict_onnx(path: str | Path, filepaths: list[str], classes: list[str], conf: float = 0.01,
                 iou: float = 0.7, max_det: int = 100) -> tuple[Predictions, int]:
    """Run a workbench ONNX export (``onnx`` / ``onnx-int8`` targets) over image files.

    Class names and the input size come from the model's metadata and input shape, as
    ``export`` writes them; boxes are relative to each image.

    Args:
        path: the ``.onnx`` file.
        filepaths: ``N`` image files.
        classes: the workspace's class list; the returned ``class_id`` (and the columns of
            ``class_probs``) follow it by name.
        conf, iou, max_det: post-processing (minimum score, NMS IoU, boxes per image).

    Returns:
        The predictions (``image_index`` into ``filepaths``) and the model's input size.

    Raises:
        ConfigError: no such file, no class names in its metadata (not a workbench export),
            or classes outside ``classes``.
    """
    import numpy as np

    from workbench.core.types import Predictions
    from workbench.errors import ConfigError, WorkbenchError
    from workbench.prediction.api import OnnxPredictor, PredictOptions

    try:
        model = OnnxPredictor(str(path))
    except WorkbenchError:
        raise
    except Exception as exc:  # onnxruntime's own errors: a file that is not a usable model
        raise ConfigError(f"{path} is not an ONNX model onnxruntime can load ({exc}); give "
                          "the model file of a `workbench export --target onnx` folder") from exc
    unknown = sorted(set(model.names) - set(classes))
    if unknown:
        raise ConfigError(f"the model {path} predicts classes outside the workspace list: "
                          f"{unknown}")
    preds, _ = model.predict(filepaths, PredictOptions(conf=conf, iou=iou, max_det=max_det,
                                                       batch=model.batch or 8))
    to_ws = np.array([classes.index(n) for n in model.names], dtype=np.int64)
    probs = None
    if preds.class_probs is not None:
        probs = np.zeros((len(preds), len(classes)))
        probs[:, to_ws] = preds.class_probs
    return Predictions(preds.xyxy, preds.confidence, to_ws[preds.class_id], preds.image_index,
                       probs), model.imgsz
