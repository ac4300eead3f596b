"""The deployment capability's App operators: ``wb_export`` and ``wb_benchmark``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.deployment.api import (
    RKNN_PLATFORMS,
    TARGETS,
    BenchmarkConfig,
    ExportConfig,
    benchmark,
    export,
)
from workbench.deployment.thresholds import KEYWORDS
from workbench.deployment.thresholds import markdown as thresholds_markdown
from workbench.ui.api import Choices, OperatorSpec, Report, export_report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


def _export(ws: Workspace, cfg: ExportConfig, report: Report) -> Any:
    report(0.0, f"exporting {cfg.run} for {cfg.target}")
    result = export(ws, cfg).to_dict()
    shown = export_report(ws, result["export_id"])
    parts = [shown["markdown"] if shown else "", thresholds_markdown(result["thresholds"])]
    return {**result, "markdown": "\n\n".join(p for p in parts if p)}


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_export`` and ``wb_benchmark``."""
    ops.register("wb_export", OperatorSpec(
        "wb_export", "Workbench: export to a device",
        "Export a training run for a device (ONNX, INT8, TensorRT bundle for Jetson, RKNN, "
        "K210 / K230 kmodel) with calibration, fidelity and mAP against FP32, and per-class "
        "operating thresholds in deploy.yaml (auto: from the newest calibrate run of the "
        "weights); refuses an accuracy loss beyond the limit (`workbench export`). Long: "
        "schedule it.",
        ExportConfig, _export,
        choices={"run": Choices(source="training_runs", other=True),
                 "target": Choices(static=tuple(TARGETS.names())),
                 "platform": Choices(static=tuple(RKNN_PLATFORMS)),
                 "calibration": _VIEWS, "val": _VIEWS,
                 "thresholds": Choices(static=KEYWORDS, other=True)},
        long=True))
    ops.register("wb_benchmark", OperatorSpec(
        "wb_benchmark", "Workbench: benchmark exports",
        "Measure exports side by side on a view: mAP50, latency, size, efficiency, with a "
        "trade-off plot (`workbench benchmark`).", BenchmarkConfig,
        plain(benchmark, lambda c: f"benchmarking {len(c.paths)} models on {c.view}"),
        choices={"paths": Choices(source="exports", other=True), "view": _VIEWS},
        long=True))
