"""``workbench ensemble``: fuse stored prediction runs (the group's own options) and
``workbench ensemble train`` (one model per preset, then fusion). Added by :func:`register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    err,
    open_workspace,
    out,
    print_json,
    progress_bar,
)
from workbench.ensembling.config import (
    EnsembleConfig,
    EnsembleResult,
    EnsembleTrainConfig,
    parse_names,
    parse_weights,
)
from workbench.ensembling.methods import method_help
from workbench.ensembling.presets import preset_help

ensemble_app = typer.Typer(
    help="Ensembles of detectors. `workbench ensemble --runs A,B[,C]` fuses stored prediction "
         "runs (predict, predictions import or other ensembles) into a new prediction run, "
         "each box with its agreement (how many runs found it); `select --run` and `evaluate "
         "--predictions` take it like any run. `workbench ensemble train --preset "
         "recall,balanced,precision` trains one model per preset on the same data and, with "
         "--predict VIEW, fuses their predictions of that view.")

_METHOD = Annotated[str, typer.Option(help=f"Fusion method: {method_help()}.")]
_IOU = Annotated[float, typer.Option(
    help="Boxes of one class overlapping by more than this are fused (wbf) or suppressed.")]
_SKIP = Annotated[float, typer.Option(help="Ignore member boxes below this confidence.")]


@ensemble_app.callback(invoke_without_command=True)
def ensemble_main(
    ctx: typer.Context,
    runs: Annotated[str | None, typer.Option(
        help="Prediction runs to fuse, comma-separated, at least two (see `workbench runs`).")]
    = None,
    method: _METHOD = default(EnsembleConfig, "method"),
    weights: Annotated[str | None, typer.Option(
        help="One weight per run, same order, e.g. 2,1,1 (default: all 1).")] = None,
    iou: _IOU = default(EnsembleConfig, "iou"),
    skip_conf: _SKIP = default(EnsembleConfig, "skip_conf"),
    view: Annotated[str, typer.Option(
        help="Samples to fuse (a view spec); those missing a run's predictions are skipped.")]
    = default(EnsembleConfig, "view"),
    run: Annotated[str | None, typer.Option(
        help="Name of the fused prediction run (default: generated).")]
    = default(EnsembleConfig, "run"),
    replace: Annotated[bool, typer.Option(help="Overwrite a run of the same name.")]
    = default(EnsembleConfig, "replace"),
    display_conf: Annotated[float, typer.Option(
        help="Minimum confidence of the fused boxes copied to show_RUN (what the App draws).")]
    = default(EnsembleConfig, "display_conf"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Fuse stored prediction runs (--runs A,B[,C]) into one, or train one (`ensemble train`)."""
    if ctx.invoked_subcommand is not None:
        return
    if runs is None:
        out.print(ctx.get_help())
        raise typer.Exit(0)
    from workbench.ensembling.api import ensemble

    config = EnsembleConfig(runs=parse_names(runs), method=method,
                            weights=parse_weights(weights), iou=iou, skip_conf=skip_conf,
                            view=view, run=run, replace=replace, display_conf=display_conf)
    result = ensemble(open_workspace(workspace), config)
    for warning in result.warnings:
        err.print(f"[yellow]warning[/] {warning}", highlight=False)
    if json_:
        print_json(result.to_dict())
        return
    _print_fused(result, workspace)


def _print_fused(result: EnsembleResult, workspace: Path) -> None:
    backed = ", ".join(f"{n} by {k}" for k, n in sorted(result.agreement.items(),
                                                         key=lambda kv: int(kv[0])))
    out.print(f"[green]fused[/] {', '.join(result.members)} ({result.method}) into run "
              f"[bold]{result.run}[/]: {result.boxes} boxes on {result.images} images -> "
              f"{result.field}")
    if backed:
        out.print(f"boxes backed by k runs: {backed}")
    out.print(f"next: workbench select --uncertain N --run {result.run} -w {workspace}")


@ensemble_app.command("train")
def train_cmd(
    preset: Annotated[str, typer.Option(
        help=f"Member presets, comma-separated, one model each: {preset_help()}.")]
    = ",".join(default(EnsembleTrainConfig, "presets")),
    model: Annotated[str, typer.Option(
        help="Model YAML or local .pt every member starts from (nothing is downloaded).")]
    = default(EnsembleTrainConfig, "model"),
    epochs: Annotated[int, typer.Option(help="Maximum epochs of each member.")]
    = default(EnsembleTrainConfig, "epochs"),
    imgsz: Annotated[int, typer.Option(help="Input size (multiple of 32).")]
    = default(EnsembleTrainConfig, "imgsz"),
    view: Annotated[str, typer.Option(help="Training images (labeled ones of this view).")]
    = default(EnsembleTrainConfig, "view"),
    val: Annotated[str, typer.Option(help="Validation images.")]
    = default(EnsembleTrainConfig, "val"),
    patience: Annotated[int, typer.Option(help="Stop a member after this many epochs without "
                                               "improvement.")]
    = default(EnsembleTrainConfig, "patience"),
    batch: Annotated[int, typer.Option(help="Batch size.")]
    = default(EnsembleTrainConfig, "batch"),
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")]
    = default(EnsembleTrainConfig, "device"),
    seed: Annotated[int, typer.Option(help="Seed of the first member (then +1, +2 ...).")]
    = default(EnsembleTrainConfig, "seed"),
    name: Annotated[str | None, typer.Option(
        help="Run-name prefix: members NAME-PRESET, their predictions NAME-PRESET-pred, the "
             "fused run NAME (default: generated).")] = default(EnsembleTrainConfig, "name"),
    predict: Annotated[str | None, typer.Option(
        metavar="VIEW", help="Each member predicts this view at its preset's confidence; the "
                             "predictions are fused into run NAME.")]
    = default(EnsembleTrainConfig, "predict"),
    method: _METHOD = default(EnsembleTrainConfig, "method"),
    iou: _IOU = default(EnsembleTrainConfig, "iou"),
    skip_conf: _SKIP = default(EnsembleTrainConfig, "skip_conf"),
    backend: Annotated[str, typer.Option(help="Prediction backend of the members.")]
    = default(EnsembleTrainConfig, "backend"),
    operating_points: Annotated[str, typer.Option(
        help="val: each member predicts --val first and cuts its boxes where its preset's rule "
             "(recall / F1 / precision) is met there; fixed: at the preset's fixed confidence.")]
    = default(EnsembleTrainConfig, "operating_points"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Train one model per preset on the same data; --predict VIEW fuses their predictions."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.ensembling.api import train_ensemble

    config = EnsembleTrainConfig(presets=parse_names(preset), model=model, view=view, val=val,
                                 imgsz=imgsz, epochs=epochs, patience=patience, batch=batch,
                                 device=device, seed=seed, name=name, predict=predict,
                                 method=method, iou=iou, skip_conf=skip_conf, backend=backend,
                                 operating_points=operating_points)
    ws = open_workspace(workspace)
    with stdout_to_stderr(), progress_bar(json_, "ensemble") as update:
        result = train_ensemble(ws, config,
                                progress=lambda stage, done, total: update(done, total, stage))
    if json_:
        print_json(result.to_dict())
        return
    table = Table(title=f"ensemble {result.name}: {len(result.members)} members")
    for col in ("preset", "augment", "conf", "chosen by", "training run", "mAP50",
                "prediction run"):
        table.add_column(col, justify="right" if col in ("conf", "mAP50") else "left")
    for m in result.members:
        chosen = "fixed" if m["rule"] is None else m["rule"] + ("" if m["rule_met"] else " (unmet)")
        table.add_row(m["preset"], m["augment"], f"{m['conf']:.3g}", chosen, m["train_run"],
                      f"{m['map50']:.3f}", m["prediction_run"] or "-")
    out.print(table)
    for warning in result.warnings:
        err.print(f"[yellow]warning[/] {warning}", highlight=False)
    if result.fused:
        fused: dict[str, Any] = result.fused
        for warning in fused["warnings"]:
            err.print(f"[yellow]warning[/] {warning}", highlight=False)
        out.print(f"[green]fused[/] into run [bold]{result.run}[/]: {fused['boxes']} boxes on "
                  f"{fused['images']} images ({fused['method']})")
        out.print(f"next: workbench select --uncertain N --run {result.run} -w {workspace}")


def register(app: typer.Typer) -> None:
    """Add the ``ensemble`` group (model)."""
    app.add_typer(ensemble_app, name="ensemble", rich_help_panel=Stage.MODEL.value)
