"""``workbench export``: a training run as a device-ready model folder with measured fidelity.

Added to the CLI by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    err,
    open_workspace,
    out,
    print_json,
    spinner,
)
from workbench.deployment.config import BenchmarkConfig, ExportConfig
from workbench.deployment.targets import RKNN_PLATFORMS, TARGETS, side_toolchains


def export_cmd(
    run: Annotated[str, typer.Option(help="Training run name (or a .pt path) to export.")],
    target: Annotated[str, typer.Option(
        help=f"{TARGETS.choices()}. The device targets need "
             "`workbench toolchain install NAME` once.")] = default(ExportConfig, "target"),
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: as trained).")]
    = default(ExportConfig, "imgsz"),
    calibration: Annotated[str, typer.Option(
        help="View whose images calibrate INT8 (a diverse core-set pick), or none (rknn: "
             "FP16).")]
    = default(ExportConfig, "calibration"),
    calibration_count: Annotated[int, typer.Option(help="Calibration images.")]
    = default(ExportConfig, "calibration_count"),
    val: Annotated[str, typer.Option(help="View for fidelity and mAP50.")]
    = default(ExportConfig, "val"),
    val_limit: Annotated[int | None, typer.Option(
        help="Only the view's first N images (the K230 simulator takes ~3 s per image).")]
    = default(ExportConfig, "val_limit"),
    platform: Annotated[str, typer.Option(
        help=f"Rockchip SoC for --target rknn: {', '.join(RKNN_PLATFORMS)}.")]
    = default(ExportConfig, "platform"),
    max_model_mb: Annotated[float, typer.Option(help="K210 budget: largest kmodel (MiB).")]
    = default(ExportConfig, "max_model_mb"),
    max_memory_mb: Annotated[float, typer.Option(
        help="K210 budget: input + output + activations + model (MiB of the 6 MB SRAM).")]
    = default(ExportConfig, "max_memory_mb"),
    max_drop: Annotated[float, typer.Option(
        help="Refuse the export (exit 4, files kept) when it loses more mAP50 points than "
             "this against FP32 on --val.")] = default(ExportConfig, "max_drop"),
    min_cosine: Annotated[float, typer.Option(
        help="Refuse it as well when its raw outputs match FP32 with a lower cosine.")]
    = default(ExportConfig, "min_cosine"),
    accept_drop: Annotated[bool, typer.Option(
        "--accept-drop", help="Keep and record an export beyond --max-drop / --min-cosine.")]
    = default(ExportConfig, "accept_drop"),
    mixed_precision: Annotated[bool, typer.Option(
        help="When INT8 loses more than --max-drop, keep the most sensitive layers in higher "
             "precision: convolutions in float after trying percentile and entropy "
             "calibration (onnx-int8, tensorrt), layers in float16 by rknn-toolkit2's hybrid "
             "quantization (rknn), tensors in int16 by nncase's quantization scheme (k230), "
             "convolutions in float on the CPU instead of the KPU (k210).")]
    = default(ExportConfig, "mixed_precision"),
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Also write the per-layer table (sensitivity.md): onnx-int8 / "
        "tensorrt measure each convolution quantized alone and left in float alone (2 "
        "calibrations + 2 evaluations each); rknn and k230 list the vendor's per-layer error "
        "(accuracy_analysis, quant_error), k210 each layer's SQNR on the KPU's uint8 grids.")]
    = default(ExportConfig, "sensitivity"),
    thresholds: Annotated[str, typer.Option(
        help="Per-class operating thresholds for deploy.yaml (not the INT8 --calibration): "
             "auto (the newest `workbench calibrate ... --thresholds` run of these weights, "
             "else none), none (every class at 0.25), a calibrate run name, or a .yaml/.json "
             "file of {class: threshold}.")] = default(ExportConfig, "thresholds"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for <run>-<target>/ "
                                                        "(relative to the workspace).")]
    = default(ExportConfig, "out"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Export a model with classes.txt, deploy.yaml and a report of its fidelity to FP32."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.deployment.api import export

    cfg = ExportConfig(run=run, target=target, imgsz=imgsz, calibration=calibration,
                       calibration_count=calibration_count, val=val, out=out_dir,
                       val_limit=val_limit, platform=platform, max_model_mb=max_model_mb,
                       max_memory_mb=max_memory_mb, max_drop=max_drop,
                       min_cosine=min_cosine, accept_drop=accept_drop,
                       mixed_precision=mixed_precision, sensitivity=sensitivity,
                       thresholds=thresholds)
    ws = open_workspace(workspace)
    with stdout_to_stderr(), spinner(json_, f"exporting {run} to {target}"):
        report = export(ws, cfg).to_dict()
    for warning in report.get("warnings", []):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if report.get("accepted_drop"):
        err.print("[yellow]kept with --accept-drop:[/] " + "; ".join(report["gate"]["failures"]),
                  highlight=False)
    if json_:
        print_json(report)
        return
    fid = report["fidelity"]
    out.print(f"[green]exported[/] {report['path']} ({report['size_bytes'] / 1e6:.2f} MB)")
    speed = (f"host latency {report['latency_ms']:.1f} ms (FP32 {report['latency_ms_fp32']:.1f} "
             "ms)" if report["latency_ms"] is not None else
             f"simulator {report['simulator_ms_per_image']:.0f} ms per image (not device speed)")
    out.print(f"mAP50 {report['map50']:.4f} (FP32 {report['map50_fp32']:.4f}) on "
              f"{report['val']['images']} images; outputs vs FP32: cosine {fid['cosine']:.5f}, "
              f"max abs {fid['max_abs']:.4g}; {speed}")
    memory = report.get("memory_bytes")
    if memory:
        parts = ", ".join(f"{k} {v / 2**20:.2f}" for k, v in memory.items())
        verdict = {True: " — fits the budget", False: "", None: ""}[report["fits"]]
        out.print(f"device memory (MiB): {parts}{verdict}")
    if report.get("device_script"):
        out.print(f"device script: {report['device_script']}")
    chosen = report.get("thresholds") or {}
    if chosen.get("source", "none") != "none":
        values = ", ".join(f"{c} {v:.3f}" for c, v in chosen["values"].items())
        out.print(f"thresholds ({chosen['source']}): {values}", highlight=False)


def benchmark_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Export folders or model files.")],
    view: Annotated[str, typer.Option(help="Images and ground truth to measure on.")]
    = default(BenchmarkConfig, "view"),
    limit: Annotated[int | None, typer.Option(help="Only the first N images.")]
    = default(BenchmarkConfig, "limit"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Compare exports: mAP50, latency p50/p95, FPS, peak memory, size; JSON, Markdown, plot."""
    from workbench.deployment.api import benchmark

    cfg = BenchmarkConfig(paths=list(paths), view=view, limit=limit)
    ws = open_workspace(workspace)
    with spinner(json_, "benchmarking"):
        result = benchmark(ws, cfg).to_dict()
    if json_:
        print_json(result)
        return
    out.print(Path(result["files"]["markdown"]).read_text(), markup=False)
    out.print("\n".join(f"{k}: {v}" for k, v in result["files"].items()))


toolchain_app = typer.Typer(help="Export toolchains: what this machine has for each target.",
                            no_args_is_help=True)


@toolchain_app.command("status")
def toolchain_status_cmd(json_: JsonOpt = False) -> None:
    """Each export target's toolchain: found (with versions) or what to install."""
    from rich.table import Table

    from workbench.deployment.api import toolchain_status

    found = toolchain_status()
    if json_:
        print_json([t.to_dict() for t in found])
        return
    table = Table(title="export toolchains")
    for col in ("target", "available", "detail", "to install"):
        table.add_column(col, overflow="fold")
    for t in found:
        table.add_row(t.target, "yes" if t.available else "no", t.detail, t.install)
    out.print(table)


@toolchain_app.command("install")
def toolchain_install_cmd(
    name: Annotated[str, typer.Argument(help=" | ".join(side_toolchains()))],
    force: Annotated[bool, typer.Option(help="Rebuild even if it is installed.")] = False,
) -> None:
    """Build a vendor toolchain's side environment (cached outside the repo, pinned)."""
    from workbench.deployment.api import install_toolchain

    root = install_toolchain(name, force=force, log=lambda line: err.print(line, markup=False))
    out.print(f"[green]installed[/] {name} in {root}")


def register(app: typer.Typer) -> None:
    """Add ``export``, ``benchmark`` and the ``toolchain`` group (deployment)."""
    app.command("export", rich_help_panel=Stage.DEPLOYMENT.value)(export_cmd)
    app.command("benchmark", rich_help_panel=Stage.DEPLOYMENT.value)(benchmark_cmd)
    app.add_typer(toolchain_app, name="toolchain", rich_help_panel=Stage.DEPLOYMENT.value)
