"""Commands that predict: ``predict`` over a view, ``predictions import`` from elsewhere, and
``visualize`` (a 2-D map of a run's embeddings for the App)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    JsonOpt,
    RayAddressOpt,
    RayWorkersOpt,
    Stage,
    WorkspaceOpt,
    choices_help,
    default,
    err,
    input_report,
    open_workspace,
    out,
    print_issues,
    print_json,
    spinner,
)
from workbench.errors import ConfigError
from workbench.prediction.api import (
    BACKENDS,
    PredictConfig,
    PredictionsImportConfig,
    VisualizeConfig,
    method_help,
)
from workbench.prediction.engines import ENGINES
from workbench.prediction.tta import FUSION_METHODS, tta_pass_help


def _backend_help() -> str:
    """``onnxruntime (default) | ultralytics``: the registered backends."""
    first = default(PredictConfig, "backend")
    return " | ".join(n + (" (default)" if n == first else "") for n in BACKENDS.names())


def _passes(text: str | None, tta: bool) -> list[str]:
    """``--tta-passes a,b`` as a list (the config's default when not given).

    Raises:
        ConfigError: passes given without ``--tta``.
    """
    if text is None:
        return list(default(PredictConfig, "tta_passes"))
    if not tta:
        raise ConfigError("--tta-passes chooses the passes of --tta; add --tta")
    return [name.strip() for name in text.split(",") if name.strip()]


predictions_app = typer.Typer(help="Predictions made elsewhere (another machine, a device).",
                              no_args_is_help=True)


def predict(
    model: Annotated[str, typer.Option(
        help="A .pt or .onnx file, or the name of a finished training run.")],
    run: Annotated[str | None, typer.Option(help="Prediction run name (default: generated).")]
    = default(PredictConfig, "run"),
    view: Annotated[str, typer.Option(
        help="pool | all | split:NAME | tag:NAME | status:NAME | round:NAME")]
    = default(PredictConfig, "view"),
    backend: Annotated[str, typer.Option(help=_backend_help())]
    = default(PredictConfig, "backend"),
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the model's).")]
    = default(PredictConfig, "imgsz"),
    batch: Annotated[int, typer.Option(
        "--batch", "--batch-size",
        help="Images per forward pass (with --engine ray: per actor call too).")]
    = default(PredictConfig, "batch"),
    conf: Annotated[float, typer.Option(
        help="Minimum best-class score of a box (low on purpose: unsure boxes are what "
             "uncertainty sampling looks for).")] = default(PredictConfig, "conf"),
    iou: Annotated[float, typer.Option(help="NMS IoU threshold.")]
    = default(PredictConfig, "iou"),
    display_conf: Annotated[float, typer.Option(
        help="Minimum confidence of the boxes copied to show_RUN, what the App draws by "
             "default (pred_RUN keeps every box for scoring).")]
    = default(PredictConfig, "display_conf"),
    embeddings: Annotated[bool, typer.Option(
        help="Also store a pooled backbone feature per image as emb_RUN.")]
    = default(PredictConfig, "embeddings"),
    tta: Annotated[bool, typer.Option(
        help="Run more passes (--tta-passes; default a horizontal flip and 0.83x/1.17x input "
             "sizes); store them as pred_RUN_tta and their per-image disagreement.")]
    = default(PredictConfig, "tta"),
    tta_passes: Annotated[str | None, typer.Option(
        help=tta_pass_help(), show_default=",".join(default(PredictConfig, "tta_passes")))]
    = None,
    fuse: Annotated[bool, typer.Option(
        help="Store the fusion of the plain pass and every TTA pass as pred_RUN, each box with "
             "its agreement (how many passes found it); needs --tta.")]
    = default(PredictConfig, "fuse"),
    fuse_method: Annotated[str, typer.Option(help=choices_help(
        FUSION_METHODS, default(PredictConfig, "fuse_method"), "Fusion of the passes: "))]
    = default(PredictConfig, "fuse_method"),
    fuse_iou: Annotated[float, typer.Option(
        help="IoU above which boxes of different passes are the same object (--fuse).")]
    = default(PredictConfig, "fuse_iou"),
    calibration: Annotated[str, typer.Option(
        help="Confidence map applied before storing: auto (the newest `workbench calibrate` "
             "map of this model, if any), none, or a calibration's name; the raw value is "
             "kept per box as raw_confidence.")]
    = default(PredictConfig, "calibration"),
    device: Annotated[str, typer.Option(help="cpu, or a CUDA index (ultralytics backend).")]
    = default(PredictConfig, "device"),
    replace: Annotated[bool, typer.Option(help="Overwrite a run of the same name.")]
    = default(PredictConfig, "replace"),
    resume: Annotated[bool, typer.Option(
        help="Continue --run RUN (a run that was interrupted, or a view that grew): skip the "
             "images of the view that already have pred_RUN (the run's model and settings "
             "are required; the view and engine may change) and record the run once, over "
             "every image.")]
    = default(PredictConfig, "resume"),
    chunk: Annotated[int, typer.Option(
        help="Images predicted and stored per step; a run killed half-way keeps its "
             "finished steps, and --resume goes on from there.")]
    = default(PredictConfig, "chunk"),
    engine: Annotated[str, typer.Option(help=choices_help(
        ENGINES, default(PredictConfig, "engine"), "Where the model runs: "))]
    = default(PredictConfig, "engine"),
    address: RayAddressOpt = default(PredictConfig, "address"),
    workers: RayWorkersOpt = default(PredictConfig, "workers"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Predict a view and store pred_RUN with per-box class vectors (and scores for select).

    --engine ray pools the work over a Ray cluster (Ray Data, an optional extra): the results
    are the same as the local engine's and are stored as they arrive.
    """
    from rich.progress import Progress

    from workbench.cli.console import stdout_to_stderr
    from workbench.prediction.api import predict as run_predict

    config = PredictConfig(model=model, run=run, view=view, backend=backend, imgsz=imgsz,
                           batch=batch, embeddings=embeddings, conf=conf, iou=iou,
                           display_conf=display_conf, device=device, replace=replace, tta=tta,
                           tta_passes=_passes(tta_passes, tta), fuse=fuse,
                           fuse_method=fuse_method, fuse_iou=fuse_iou, calibration=calibration,
                           engine=engine, address=address, workers=workers, resume=resume,
                           chunk=chunk)
    ws = open_workspace(workspace)
    with stdout_to_stderr(), Progress(console=err, disable=json_) as bar:
        task = bar.add_task("predicting", total=None)
        result = run_predict(ws, config,
                             progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
    if json_:
        print_json(result.to_dict())
        return
    fused = f" (TTA passes fused with {config.fuse_method})" if config.fuse else ""
    where = "" if result.engine == "local" else f" on {result.engine}"
    resumed = f" ({result.skipped} already predicted, skipped)" if result.skipped else ""
    out.print(f"[green]predicted[/] {result.predicted} images{resumed} ({result.boxes} boxes in "
              f"the run) with {result.backend}{where} at {result.images_per_s:.1f} images/s as "
              f"run [bold]{result.run}[/] -> {result.field}{fused}")
    if result.calibration:
        out.print(f"confidences calibrated with [bold]{result.calibration}[/] (raw values kept "
                  "as raw_confidence; --calibration none to store them as they are)")
    if result.visualization:
        out.print(f"embeddings map: brain key [bold]{result.visualization}[/] (App: Embeddings)")
    out.print(f"next: workbench select --uncertain N --run {result.run} -w {workspace}")


def visualize(
    run: Annotated[str | None, typer.Option(
        help="Prediction run whose emb_RUN to map (default: the newest run with embeddings).")]
    = default(VisualizeConfig, "run"),
    method: Annotated[str, typer.Option(help=method_help())]
    = default(VisualizeConfig, "method"),
    seed: Annotated[int, typer.Option(help="Random seed of the reduction.")]
    = default(VisualizeConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Compute a 2-D map of a run's embeddings for the App's Embeddings panel."""
    from workbench.prediction.api import visualize as run_visualize

    config = VisualizeConfig(run=run, method=method, seed=seed)
    ws = open_workspace(workspace)
    with spinner(json_, f"computing a {method} map ..."):
        result = run_visualize(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]mapped[/] {result.points} images of {result.embeddings_field} with "
              f"{result.method} as brain key [bold]{result.brain_key}[/] in "
              f"{result.seconds:.1f}s; open the App's Embeddings panel to see it")


@predictions_app.command("import")
def predictions_import(
    file: Annotated[Path, typer.Argument(help="JSONL: one {filepath, detections} per line.")],
    run: Annotated[str, typer.Option(help="Name of the prediction run to create.")],
    skip_bad: Annotated[bool, typer.Option(
        help="Import the valid lines and report the rest (default: change nothing).")]
    = default(PredictionsImportConfig, "skip_bad"),
    replace: Annotated[bool, typer.Option(help="Overwrite a run of the same name.")]
    = default(PredictionsImportConfig, "replace"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Import predictions from JSONL into pred_RUN (validated; all or nothing)."""
    from workbench.prediction.api import import_predictions

    ws = open_workspace(workspace)
    config = PredictionsImportConfig(file, run, skip_bad=skip_bad, replace=replace)
    with input_report(json_), spinner(json_, f"importing {file} ..."):
        result = import_predictions(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    print_issues(result.issues)
    out.print(f"[green]imported[/] {result.boxes} boxes on {result.samples} images as run "
              f"[bold]{run}[/] ({result.skipped_lines} lines skipped) in {result.seconds:.1f}s")


def register(app: typer.Typer) -> None:
    """Add ``predict``, ``visualize`` and the ``predictions`` group (model)."""
    app.command(rich_help_panel=Stage.MODEL.value)(predict)
    app.command(rich_help_panel=Stage.MODEL.value)(visualize)
    app.add_typer(predictions_app, name="predictions", rich_help_panel=Stage.MODEL.value)
