"""CLI commands around models: train, evaluate, predict, predictions import, select, runs.

Registered on :data:`workbench.cli.app` when :mod:`workbench.cli` imports this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.cli import (
    JsonOpt,
    WorkspaceOpt,
    _input_report,
    _open,
    _print_issues,
    _print_json,
    _spinner,
    app,
    err,
    out,
)


@app.command()
def train(
    view: Annotated[str, typer.Option(help="Training images (labeled ones of this view).")]
    = "split:train",
    val: Annotated[str, typer.Option(help="Validation images.")] = "split:val",
    model: Annotated[str, typer.Option(
        help="Model YAML (yolov8n.yaml, yolo11n.yaml, configs/models/NAME.yaml) to train from "
             "scratch, or a local .pt. Nothing is downloaded.")] = "yolov8n.yaml",
    imgsz: Annotated[int, typer.Option(help="Input size (multiple of 32).")] = 320,
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 50,
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without "
                                          "improvement.")] = 10,
    batch: Annotated[int, typer.Option(help="Batch size.")] = 16,
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")] = "cpu",
    run: Annotated[str | None, typer.Option(help="Run name (default: generated).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue --run from its last checkpoint.")]
    = False,
    sizes: Annotated[str | None, typer.Option(
        help="Train one model per input size, e.g. 224,320,416, and write a trade-off report.")]
    = None,
    allow_missing_classes: Annotated[bool, typer.Option(
        help="Train even if some classes have no box in the training view.")] = False,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Train a detector on a curated view (offline, from YAML or a local .pt); recorded as a run."""
    from workbench.console import stdout_to_stderr
    from workbench.training.runner import TrainConfig
    from workbench.training.runner import train as run_train

    ws = _open(workspace)
    config = TrainConfig(view=view, val=val, model=model, imgsz=imgsz, epochs=epochs,
                         patience=patience, batch=batch, device=device, run=run, resume=resume,
                         seed=seed, allow_missing_classes=allow_missing_classes)
    if sizes:
        from workbench.training.sweep import parse_sizes, sweep

        with stdout_to_stderr(), _epoch_progress(json_) as on_epoch:
            report = sweep(ws, config, parse_sizes(sizes), on_epoch=on_epoch)
        if json_:
            _print_json(report)
            return
        out.print(f"trade-off report: {report['markdown']}  (plot: {report['plot']})")
        out.print(f"best size by {report['score_formula']}: [bold]{report['best']['imgsz']}[/]")
        return
    with stdout_to_stderr(), _epoch_progress(json_) as on_epoch:
        result = run_train(ws, config, on_epoch=on_epoch)
    if json_:
        _print_json(result.to_dict())
        return
    out.print(f"[green]trained[/] run [bold]{result.run}[/]: mAP50 {result.map50:.3f}, "
              f"mAP50-95 {result.map50_95:.3f} after {result.epochs} epochs in "
              f"{result.seconds:.0f}s")
    out.print(f"weights: {result.weights}")
    out.print(f"next: workbench evaluate --run {result.run} -w {workspace}")


@app.command()
def evaluate(
    run: Annotated[str | None, typer.Option(
        help="Training run whose best weights to evaluate.")] = None,
    model: Annotated[str | None, typer.Option(
        help="Evaluate this local .pt instead of a run's weights.")] = None,
    split: Annotated[str, typer.Option(help="Split to evaluate on.")] = "val",
    conf: Annotated[float, typer.Option(help="Minimum confidence of evaluated boxes.")] = 0.01,
    iou: Annotated[float, typer.Option(help="IoU for the per-box TP/FP/FN fields.")] = 0.5,
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index.")] = "cpu",
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Predict a split with a run's weights and evaluate (COCO-style), storing TP/FP/FN."""
    from workbench.console import stdout_to_stderr
    from workbench.evaluation import evaluate as run_evaluate

    ws = _open(workspace)
    with stdout_to_stderr(), _spinner(json_, f"evaluating {run or model} on {split} ..."):
        report = run_evaluate(ws, run, split=split, iou=iou, device=device, model=model,
                              conf=conf)
    if json_:
        _print_json(report.to_dict())
        return
    table = Table(title=f"{report.run} on {split} ({report.images} images): mAP50 "
                        f"{report.map50:.3f}, "
                        f"mAP50-95 {report.map50_95:.3f}")
    for col in ("class", "AP50", "AP50-95", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in report.per_class.items():
        table.add_row(name, f"{row['ap50']:.3f}", f"{row['ap50_95']:.3f}", str(row["support"]))
    out.print(table)
    out.print(f"precision {report.precision:.3f}, recall {report.recall:.3f} at confidence >= "
              f"{report.conf_threshold}; report and plots in {report.report_dir}")
    out.print(f"in the App, filter `{report.pred_field}` by `{report.eval_key}` = fp to see "
              "false positives (`workbench app`)")


@contextlib.contextmanager
def _epoch_progress(quiet: bool) -> Iterator[Any]:
    """A progress bar over epochs (stderr); yields the callback for the trainer."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task("training", total=None, info="")

        def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
            progress.update(task, total=total, completed=epoch,
                            description=f"epoch {epoch}/{total}",
                            info=f"mAP50 {metrics.get('metrics/mAP50(B)', 0.0):.3f}")

        yield on_epoch


@app.command()
def predict(
    model: Annotated[str, typer.Option(
        help="A .pt or .onnx file, or the name of a finished training run.")],
    run: Annotated[str | None, typer.Option(help="Prediction run name (default: generated).")]
    = None,
    view: Annotated[str, typer.Option(
        help="pool | all | split:NAME | tag:NAME | status:NAME | round:NAME")] = "pool",
    backend: Annotated[str, typer.Option(help="onnxruntime (default) | ultralytics")]
    = "onnxruntime",
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the model's).")] = None,
    batch: Annotated[int, typer.Option(help="Images per forward pass.")] = 16,
    conf: Annotated[float, typer.Option(
        help="Minimum best-class score of a box (low on purpose: unsure boxes are what "
             "uncertainty sampling looks for).")] = 0.01,
    iou: Annotated[float, typer.Option(help="NMS IoU threshold.")] = 0.7,
    embeddings: Annotated[bool, typer.Option(
        help="Also store a pooled backbone feature per image as emb_RUN.")] = False,
    tta: Annotated[bool, typer.Option(
        help="Add flip and 0.83x/1.17x-scale passes; store them and their disagreement.")]
    = False,
    device: Annotated[str, typer.Option(help="cpu, or a CUDA index (ultralytics backend).")]
    = "cpu",
    replace: Annotated[bool, typer.Option(help="Overwrite a run of the same name.")] = False,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Predict a view and store pred_RUN with per-box class vectors (and scores for select)."""
    from rich.progress import Progress

    from workbench.console import stdout_to_stderr
    from workbench.prediction import predict as run_predict

    ws = _open(workspace)
    with stdout_to_stderr(), Progress(console=err, disable=json_) as bar:
        task = bar.add_task("predicting", total=None)
        result = run_predict(ws, model, run=run, view=view, backend=backend, imgsz=imgsz,
                             batch=batch, embeddings=embeddings, conf=conf, iou=iou,
                             device=device, replace=replace, tta=tta,
                             progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
    if json_:
        _print_json(result.to_dict())
        return
    out.print(f"[green]predicted[/] {result.samples} images ({result.boxes} boxes) with "
              f"{result.backend} at {result.images_per_s:.1f} images/s as run "
              f"[bold]{result.run}[/] -> {result.field}")
    out.print(f"next: workbench select --uncertain N --run {result.run} -w {workspace}")


predictions_app = typer.Typer(help="Predictions made elsewhere (another machine, a device).",
                              no_args_is_help=True)
app.add_typer(predictions_app, name="predictions")


@predictions_app.command("import")
def predictions_import(
    file: Annotated[Path, typer.Argument(help="JSONL: one {filepath, detections} per line.")],
    run: Annotated[str, typer.Option(help="Name of the prediction run to create.")],
    skip_bad: Annotated[bool, typer.Option(
        help="Import the valid lines and report the rest (default: change nothing).")] = False,
    replace: Annotated[bool, typer.Option(help="Overwrite a run of the same name.")] = False,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Import predictions from JSONL into pred_RUN (validated; all or nothing)."""
    from workbench.prediction_import import import_predictions

    ws = _open(workspace)
    with _input_report(json_), _spinner(json_, f"importing {file} ..."):
        result = import_predictions(ws, file, run, skip_bad=skip_bad, replace=replace)
    if json_:
        _print_json(result.to_dict())
        return
    _print_issues(result.issues)
    out.print(f"[green]imported[/] {result.boxes} boxes on {result.samples} images as run "
              f"[bold]{run}[/] ({result.skipped_lines} lines skipped) in {result.seconds:.1f}s")


@app.command()
def select(
    uncertain: Annotated[int | None, typer.Option(help="Select N images by uncertainty.")] = None,
    random: Annotated[int | None, typer.Option(
        "--random", help="Select N images at random (the baseline).")] = None,
    run: Annotated[str | None, typer.Option(help="Prediction run to score (default: latest).")]
    = None,
    strategy: Annotated[str, typer.Option(
        help="least-confidence | margin | entropy | tta-disagreement (predict --tta) | "
             "ensemble-disagreement (--run A,B,...)")] = "entropy",
    aggregate: Annotated[str, typer.Option(help="Per image: max | mean | sum | topk:K")] = "max",
    diversity: Annotated[str, typer.Option(help="none | coreset | cluster")] = "none",
    embeddings: Annotated[str | None, typer.Option(help="Embedding field for diversity.")] = None,
    class_balance: Annotated[bool, typer.Option(
        help="Equal quotas per predicted class.")] = False,
    class_weight: Annotated[list[str] | None, typer.Option(
        help="NAME=W: multiply the scores of boxes of class NAME by W (repeatable).")] = None,
    conf_band: Annotated[tuple[float, float] | None, typer.Option(
        help="LO HI: score images by the number of boxes with confidence in [LO, HI].")] = None,
    empty_score: Annotated[float, typer.Option(
        help="Score of images without predicted boxes (1.0: treat as uncertain).")] = 1.0,
    round_: Annotated[str | None, typer.Option("--round", help="Round name (default round-K).")]
    = None,
    replace: Annotated[bool, typer.Option(help="Redo an existing round.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for tie-breaks and random picks.")] = 0,
    dry_run: Annotated[bool, typer.Option(help="Show the choice, change nothing.")] = False,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Choose pool images to label: by uncertainty (--uncertain N) or at random (--random N)."""
    from workbench.errors import ConfigError
    from workbench.selection import SelectConfig
    from workbench.selection import select as run_select

    if (uncertain is None) == (random is None):
        raise ConfigError("give exactly one of --uncertain N or --random N")
    weights: dict[str, float] = {}
    for item in class_weight or []:
        name, sep, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ConfigError(f"--class-weight expects NAME=W, got {item!r}")
    config = SelectConfig(n=int(uncertain or random or 0), run=run,
                          strategy="random" if random is not None else strategy,
                          aggregate=aggregate, diversity=diversity, embeddings=embeddings,
                          class_balance=class_balance, class_weights=weights,
                          conf_band=conf_band, empty_score=empty_score, round=round_,
                          replace=replace, seed=seed, dry_run=dry_run)
    result = run_select(_open(workspace), config)
    if json_:
        _print_json({k: v for k, v in result.to_dict().items() if k != "scores"})
        return
    for w in result.warnings:
        err.print(f"[yellow]warning[/] {w}")
    verb = "would select" if dry_run else "selected"
    out.print(f"[green]{verb}[/] {result.selected} of {result.candidates} pool images by "
              f"{result.strategy}" + (f" (run {result.run})" if result.run else "")
              + f" as round [bold]{result.round}[/] in {result.seconds:.2f}s")
    if result.scores:
        out.print(f"scores: highest {max(result.scores):.4f}, lowest {min(result.scores):.4f}")


@app.command("runs")
def runs_command(
    kind: Annotated[str | None, typer.Option(
        help="Only this kind: ingest, split, train, evaluate, sweep.")] = None,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """List the workspace's runs (ingests, splits, trainings, evaluations), oldest first."""
    from workbench.store.runs import list_runs

    docs = list_runs(_open(workspace), kind)
    rows = [{"run": d["_id"], "kind": d["kind"], "status": d.get("status", "completed"),
             "started_at": d.get("started_at"), "seconds": d.get("seconds"),
             "epochs": len(d.get("epochs") or []) or None,
             "map50": (d.get("outputs") or {}).get("map50")} for d in docs]
    if json_:
        _print_json(rows)
        return
    table = Table(title=f"runs ({len(rows)})")
    for col in ("run", "kind", "status", "started", "seconds", "epochs", "mAP50"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run"], r["kind"], r["status"], str(r["started_at"])[:19],
                      f"{r['seconds']:.1f}" if r["seconds"] is not None else "",
                      str(r["epochs"] or ""), f"{r['map50']:.3f}" if r["map50"] is not None
                      else "")
    out.print(table)


