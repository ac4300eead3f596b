"""``workbench export``: a training run as a device-ready model folder with measured fidelity.

Registered on :data:`workbench.cli.app` when :mod:`workbench.cli` imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import JsonOpt, WorkspaceOpt, _open, _print_json, _spinner, app, out


@app.command("export")
def export_cmd(
    run: Annotated[str, typer.Option(help="Training run name (or a .pt path) to export.")],
    target: Annotated[str, typer.Option(
        help="onnx | onnx-int8 | tensorrt (rknn, k210, k230: not built yet).")] = "onnx",
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: as trained).")] = None,
    calibration: Annotated[str, typer.Option(
        help="View whose images calibrate INT8 (a diverse core-set pick), or none.")]
    = "split:train",
    calibration_count: Annotated[int, typer.Option(help="Calibration images.")] = 100,
    val: Annotated[str, typer.Option(help="View for fidelity and mAP50.")] = "split:val",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for <run>-<target>/ "
                                                        "(relative to the workspace).")]
    = Path("exports"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Export a model with classes.txt, deploy.yaml and a report of its fidelity to FP32."""
    from workbench.console import stdout_to_stderr
    from workbench.exporting import ExportConfig, export_model

    cfg = ExportConfig(run=run, target=target, imgsz=imgsz, calibration=calibration,
                       calibration_count=calibration_count, val=val, out=out_dir)
    ws = _open(workspace)
    with stdout_to_stderr(), _spinner(json_, f"exporting {run} to {target}"):
        report = export_model(ws, cfg)
    if json_:
        _print_json(report)
        return
    fid = report["fidelity"]
    out.print(f"[green]exported[/] {report['path']} ({report['size_bytes'] / 1e6:.2f} MB)")
    out.print(f"mAP50 {report['map50']:.4f} (FP32 {report['map50_fp32']:.4f}) on "
              f"{report['val']['images']} images; outputs vs FP32: cosine {fid['cosine']:.5f}, "
              f"max abs {fid['max_abs']:.4g}; host latency {report['latency_ms']:.1f} ms "
              f"(FP32 {report['latency_ms_fp32']:.1f} ms)")


@app.command("benchmark")
def benchmark_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Export folders or model files.")],
    view: Annotated[str, typer.Option(help="Images and ground truth to measure on.")]
    = "split:val",
    limit: Annotated[int | None, typer.Option(help="Only the first N images.")] = None,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Compare exports: mAP50, latency p50/p95, FPS, peak memory, size; JSON, Markdown, plot."""
    from workbench.benchmarking import benchmark

    ws = _open(workspace)
    with _spinner(json_, "benchmarking"):
        result = benchmark(ws, paths, view=view, limit=limit)
    if json_:
        _print_json(result)
        return
    out.print(Path(result["files"]["markdown"]).read_text(), markup=False)
    out.print("\n".join(f"{k}: {v}" for k, v in result["files"].items()))


toolchain_app = typer.Typer(help="Export toolchains: what this machine has for each target.",
                            no_args_is_help=True)
app.add_typer(toolchain_app, name="toolchain")


@toolchain_app.command("status")
def toolchain_status_cmd(json_: JsonOpt = False) -> None:
    """Each export target's toolchain: found (with versions) or what to install."""
    from rich.table import Table

    from workbench.export.toolchains import status

    found = status()
    if json_:
        _print_json([t.to_dict() for t in found])
        return
    table = Table(title="export toolchains")
    for col in ("target", "available", "detail", "to install"):
        table.add_column(col, overflow="fold")
    for t in found:
        table.add_row(t.target, "yes" if t.available else "no", t.detail, t.install)
    out.print(table)
