"""The export capability's public surface: export to a target, benchmark, toolchains."""

from __future__ import annotations

from workbench.export.benchmark import benchmark
from workbench.export.exporting import ExportConfig, export_model
from workbench.export.toolchains import install as install_toolchain
from workbench.export.toolchains import status as toolchain_status

__all__ = ["ExportConfig", "benchmark", "export_model", "install_toolchain", "toolchain_status"]
