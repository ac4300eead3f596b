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
from workbench.training.augment import AUGMENT_PRESETS
from workbench.training.config import (
    OPTIMIZERS,
    SweepConfig,
    TrainConfig,
    parse_names,
    parse_sizes,
)
from workbench.training.eval_cli import evaluate
from workbench.training.train_args import parse_train_args


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
    augment: Annotated[str, typer.Option(
        help=f"Augmentation preset: {AUGMENT_PRESETS.choices()} (docs/training.md lists the "
             "values; --train-arg overrides single ones).")]
    = default(TrainConfig, "augment"),
    multi_scale: Annotated[bool, typer.Option(
        help="Vary the input size by +/-50 % from batch to batch.")]
    = default(TrainConfig, "multi_scale"),
    optimizer: Annotated[str, typer.Option(
        help=f"Optimizer: {' | '.join(OPTIMIZERS)} (auto picks optimizer and learning rate).")]
    = default(TrainConfig, "optimizer"),
    lr0: Annotated[float | None, typer.Option(
        help="Initial learning rate (with an --optimizer other than auto).")]
    = default(TrainConfig, "lr0"),
    freeze: Annotated[int | None, typer.Option(
        help="Freeze the first N layers (fine-tuning a .pt).")] = default(TrainConfig, "freeze"),
    classes: Annotated[str | None, typer.Option(
        help="Train on these classes only, comma-separated (e.g. fish,shark).")]
    = default(TrainConfig, "classes"),
    cache: Annotated[bool, typer.Option(help="Keep decoded training images in RAM.")]
    = default(TrainConfig, "cache"),
    critical: Annotated[str | None, typer.Option(
        help="Classes that matter most, comma-separated; with --oversample their images "
             "are repeated in the training set.")] = default(TrainConfig, "critical"),
    oversample: Annotated[int, typer.Option(
        help="Times each training image with a --critical class appears per epoch "
             "(repeat-factor sampling; 1: no repeats).")] = default(TrainConfig, "oversample"),
    train_arg: Annotated[list[str] | None, typer.Option(
        help="Further Ultralytics training argument KEY=VALUE (repeatable), e.g. "
             "--train-arg cos_lr=true; wins over the options above.")] = None,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Train a detector on a curated view (offline, from YAML or a local .pt); recorded as a run."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.training.api import train as run_train

    ws = open_workspace(workspace)
    config = TrainConfig(view=view, val=val, model=model, imgsz=imgsz, epochs=epochs,
                         patience=patience, batch=batch, device=device, run=run, resume=resume,
                         seed=seed, allow_missing_classes=allow_missing_classes,
                         augment=augment, multi_scale=multi_scale, optimizer=optimizer, lr0=lr0,
                         freeze=freeze, classes=parse_names(classes), cache=cache,
                         critical=parse_names(critical), oversample=oversample,
                         overrides={**default(TrainConfig, "overrides"),
                                    **parse_train_args(train_arg)})
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
    if result.train_images_repeated:
        out.print(f"critical classes: {result.train_images_repeated} training images repeated "
                  f"x{config.oversample} ({result.train_images_after_repeats} images per epoch)")
    out.print(f"weights: {result.weights}")
    out.print(f"next: workbench evaluate --run {result.run} -w {workspace}")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` (model)."""
    app.command(rich_help_panel=Stage.MODEL.value)(train)
    app.command(rich_help_panel=Stage.MODEL.value)(evaluate)
