"""``workbench calibrate``: calibrated confidences and per-class operating thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workbench.calibration.config import METHODS, CalibrateConfig, CalibrateResult
from workbench.calibration.report import num
from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    open_workspace,
    out,
    print_json,
    spinner,
)


def calibrate(
    run: Annotated[str, typer.Option(help="The prediction run to calibrate (predict, "
                                          "predictions import or ensemble).")],
    view: Annotated[str, typer.Option(help="Its labeled images to fit and measure on; split "
                                           "at random into a fitting and a held-out half.")]
    = default(CalibrateConfig, "view"),
    method: Annotated[str, typer.Option(
        help=f"The map stored with the run: {' | '.join(METHODS)} (every one is measured).")]
    = default(CalibrateConfig, "method"),
    per_class: Annotated[bool, typer.Option(
        "--per-class", help="One map per class with enough boxes (--min-per-class).")]
    = default(CalibrateConfig, "per_class"),
    min_per_class: Annotated[int, typer.Option(
        help="Boxes a class needs on the fitting half for its own map.")]
    = default(CalibrateConfig, "min_per_class"),
    thresholds: Annotated[str | None, typer.Option(
        metavar="RULE", help="Also pick one operating threshold per class: f1, precision:0.9 "
                             "or recall:0.8 (written into deploy.yaml by `workbench export`).")]
    = default(CalibrateConfig, "thresholds"),
    iou: Annotated[float, typer.Option(help="IoU a box needs with a ground-truth box of its "
                                            "class to count as right.")]
    = default(CalibrateConfig, "iou"),
    bins: Annotated[int, typer.Option(help="Confidence bins of D-ECE and the diagram.")]
    = default(CalibrateConfig, "bins"),
    position: Annotated[bool, typer.Option(
        "--position", help="Bin D-ECE over the box centre too (--position-bins per axis).")]
    = default(CalibrateConfig, "position"),
    position_bins: Annotated[int, typer.Option(help="Bins per axis of --position.")]
    = default(CalibrateConfig, "position_bins"),
    min_conf: Annotated[float, typer.Option(help="Ignore boxes below this confidence.")]
    = default(CalibrateConfig, "min_conf"),
    name: Annotated[str | None, typer.Option(
        help="Name of the calibration (default cal-<run>).")] = default(CalibrateConfig, "name"),
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a calibration of the "
                                                            "same name.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the split into halves.")]
    = default(CalibrateConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Calibrate a prediction run's confidences: D-ECE and Brier before/after on held-out
    images, a reliability diagram, per-class operating thresholds.

    The stored map is applied by `predict` (--calibration auto: runs of the same model),
    `select --calibrated` and annotation pre-annotations.
    """
    from workbench.calibration.api import calibrate as run_calibrate

    ws = open_workspace(workspace)
    config = CalibrateConfig(run=run, view=view, method=method, per_class=per_class,
                             min_per_class=min_per_class, thresholds=thresholds, iou=iou,
                             bins=bins, position=position, position_bins=position_bins,
                             min_conf=min_conf, name=name, replace=replace, seed=seed)
    with spinner(json_, f"calibrating {run}"):
        result = run_calibrate(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    _print(result)


def _print(result: CalibrateResult) -> None:
    table = Table(title=f"{result.name}: run {result.run} on {result.view}, held-out half "
                        f"({result.images['held_out']} images, {result.boxes['held_out']} "
                        f"boxes, {result.positives['held_out']} right)")
    for col in ("map", "D-ECE", "Brier"):
        table.add_column(col, justify="left" if col == "map" else "right")
    table.add_row("raw", num(result.before["dece"]), num(result.before["brier"]))
    for method, scores in result.methods.items():
        table.add_row(method + (" (stored)" if method == result.method else ""),
                      num(scores["dece"]), num(scores["brier"]),
                      style="bold" if method == result.method else None)
    out.print(table)
    per = Table(title=f"per class ({result.method})")
    for col in ("class", "boxes", "right", "D-ECE raw", "D-ECE after", "threshold"):
        per.add_column(col, justify="left" if col == "class" else "right")
    for name, row in result.per_class.items():
        threshold = "-" if not result.thresholds else f"{result.thresholds[name]:.3f}" + (
            "" if result.thresholds_met.get(name) else " *")
        per.add_row(name, str(row["boxes"]), str(row["positives"]),
                    num(row["before"]["dece"]), num(row["after"]["dece"]), threshold)
    out.print(per)
    if result.thresholds:
        out.print(f"thresholds ({result.thresholds_rule}) stored with {result.name}; "
                  "`workbench export` writes them into deploy.yaml (* = rule not met)")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    if result.plot:
        out.print(f"reliability diagram: {result.plot}")


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` (model)."""
    app.command(rich_help_panel=Stage.MODEL.value)(calibrate)
