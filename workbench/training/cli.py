"""Commands that train and evaluate detectors: ``train`` (and size sweeps) here, ``evaluate`` in
:mod:`workbench.training.eval_cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    epoch_progress,
    open_workspace,
    out,
    print_json,
)
from workbench.training.config import SweepConfig, TrainConfig, parse_sizes
from workbench.training.eval_cli import evaluate


def train(
    view: Annotated[str, typer.Option(help="Training images (labeled ones of this view).")]
    = default(TrainConfig, "view"),
    val: Annotated[str, typer.Option(help="Validation images.")] = default(TrainConfig, "val"),
    model: Annotated[str, typer.Option(
        help="Model YAML (yolov8n.yaml, yolo11n.yaml, configs/models/NAME.yaml) to train from "
             "scratch, or a local .pt. Nothing is downloaded.")]
    = default(TrainConfig, "model"),
    imgsz: Annotated[int, typer.Option(help="Input size (multiple of 32).")]
    = default(TrainConfig, "imgsz"),
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = default(TrainConfig, "epochs"),
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without "
                                          "improvement.")] = default(TrainConfig, "patience"),
    batch: Annotated[int, typer.Option(help="Batch size.")] = default(TrainConfig, "batch"),
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")]
    = default(TrainConfig, "device"),
    run: Annotated[str | None, typer.Option(help="Run name (default: generated).")]
    = default(TrainConfig, "run"),
    resume: Annotated[bool, typer.Option(help="Continue --run from its last checkpoint.")]
    = default(TrainConfig, "resume"),
    sizes: Annotated[str | None, typer.Option(
        help="Train one model per input size, e.g. 224,320,416, and write a trade-off report.")]
    = None,
    allow_missing_classes: Annotated[bool, typer.Option(
        help="Train even if some classes have no box in the training view.")]
    = default(TrainConfig, "allow_missing_classes"),
    seed: Annotated[int, typer.Option(help="Training seed.")] = default(TrainConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Train a detector on a curated view (offline, from YAML or a local .pt); recorded as a run."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.training.api import train as run_train

    ws = open_workspace(workspace)
    config = TrainConfig(view=view, val=val, model=model, imgsz=imgsz, epochs=epochs,
                         patience=patience, batch=batch, device=device, run=run, resume=resume,
                         seed=seed, allow_missing_classes=allow_missing_classes)
    if sizes:
        from workbench.training.api import sweep

        sweep_config = SweepConfig(config, parse_sizes(sizes))
        with stdout_to_stderr(), epoch_progress(json_) as on_epoch:
            report = sweep(ws, sweep_config, on_epoch=on_epoch).to_dict()
        if json_:
            print_json(report)
            return
        out.print(f"trade-off report: {report['markdown']}  (plot: {report['plot']})")
        out.print(f"best size by {report['score_formula']}: [bold]{report['best']['imgsz']}[/]")
        return
    with stdout_to_stderr(), epoch_progress(json_) as on_epoch:
        result = run_train(ws, config, on_epoch=on_epoch)
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]trained[/] run [bold]{result.run}[/]: mAP50 {result.map50:.3f}, "
              f"mAP50-95 {result.map50_95:.3f} after {result.epochs} epochs in "
              f"{result.seconds:.0f}s")
    out.print(f"weights: {result.weights}")
    out.print(f"next: workbench evaluate --run {result.run} -w {workspace}")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` (model)."""
    app.command(rich_help_panel=Stage.MODEL.value)(train)
    app.command(rich_help_panel=Stage.MODEL.value)(evaluate)
