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
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.deployment.toolchains import Toolchain
    from workbench.store.workspace import Workspace

__all__ = ["RKNN_PLATFORMS", "TARGETS", "BenchmarkConfig", "BenchmarkResult", "Budget",
           "ExportConfig", "ExportResult", "TargetSpec", "benchmark", "export", "export_model",
           "install_toolchain", "side_toolchains", "toolchain_status"]


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
