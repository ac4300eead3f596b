"""The ``ssl`` command group: ``pretrain``, ``embed``, ``probe``, ``compare``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.cli.common import (
    JsonOpt,
    RayAddressOpt,
    RayWorkersOpt,
    Stage,
    WorkspaceOpt,
    choices_help,
    default,
    err,
    open_workspace,
    out,
    print_json,
    progress_bar,
    spinner,
)
from workbench.ssl.config import (
    CompareConfig,
    EmbedConfig,
    PretrainConfig,
    ProbeConfig,
    parse_labels,
)
from workbench.ssl.engines import ENGINES
from workbench.ssl.methods import METHODS

ssl_app = typer.Typer(
    help="Self-supervised pretraining of the detector's backbone on the unlabeled pool "
         "(lightly): a detector checkpoint for `train --model`, embeddings for selection "
         "and the App, and probes of what it learned.",
    no_args_is_help=True)

RunOpt = Annotated[str, typer.Option(help="A pretraining run (`workbench ssl pretrain`).")]
DeviceOpt = Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")]


@contextlib.contextmanager
def _epochs(quiet: bool) -> Iterator[Any]:
    """A progress bar over pretraining epochs showing the loss and images/s."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task("pretraining", total=None, info="")

        def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
            progress.update(task, total=total, completed=epoch,
                            description=f"epoch {epoch}/{total}",
                            info=f"loss {metrics['loss']:.4f}, "
                                 f"{metrics['images_per_s']:.1f} images/s")

        yield on_epoch


@ssl_app.command()
def pretrain(
    view: Annotated[str, typer.Option(
        help="Images to learn from; several views joined by | are united.")]
    = default(PretrainConfig, "view"),
    method: Annotated[str, typer.Option(help=f"SSL method: {METHODS.choices()}.")]
    = default(PretrainConfig, "method"),
    model: Annotated[str, typer.Option(
        help="Detector whose backbone (layers up to SPPF) is pretrained: a model YAML or a "
             "local .pt. Nothing is downloaded.")] = default(PretrainConfig, "model"),
    imgsz: Annotated[int, typer.Option(help="Crop size (multiple of 32, 64-640).")]
    = default(PretrainConfig, "imgsz"),
    epochs: Annotated[int, typer.Option(help="Epochs (in all, when resuming).")]
    = default(PretrainConfig, "epochs"),
    batch: Annotated[int, typer.Option(help="Images per step.")] = default(PretrainConfig, "batch"),
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = default(PretrainConfig, "lr"),
    device: DeviceOpt = default(PretrainConfig, "device"),
    run: Annotated[str | None, typer.Option(help="Run name (default: generated).")]
    = default(PretrainConfig, "run"),
    resume: Annotated[bool, typer.Option(help="Continue --run from its last epoch.")]
    = default(PretrainConfig, "resume"),
    max_images: Annotated[int, typer.Option(help="Use at most N images of the view (0: all).")]
    = default(PretrainConfig, "max_images"),
    workers: Annotated[int, typer.Option(help="Dataloader worker processes.")]
    = default(PretrainConfig, "workers"),
    seed: Annotated[int, typer.Option(help="Seed.")] = default(PretrainConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Pretrain the detector's backbone on unlabeled images; writes a detector checkpoint."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.ssl.api import pretrain as run_pretrain

    ws = open_workspace(workspace)
    config = PretrainConfig(view=view, method=method, model=model, imgsz=imgsz, epochs=epochs,
                            batch=batch, lr=lr, device=device, run=run, resume=resume,
                            max_images=max_images, workers=workers, seed=seed)
    with stdout_to_stderr(), _epochs(json_) as on_epoch:
        result = run_pretrain(ws, config, on_epoch=on_epoch)
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]pretrained[/] run [bold]{result.run}[/] ({result.method}): "
              f"{result.epochs} epochs over {result.images} images, final loss "
              f"{result.final_loss:.4f}, {result.images_per_s:.1f} images/s")
    out.print(f"detector checkpoint: {result.checkpoint}")
    out.print(f"next: workbench train --model {result.checkpoint} -w {workspace}  |  "
              f"workbench ssl embed --run {result.run} -w {workspace}")


@ssl_app.command()
def embed(
    run: RunOpt,
    view: Annotated[str, typer.Option(help="Images to embed (several joined by |).")]
    = default(EmbedConfig, "view"),
    batch: Annotated[int, typer.Option(help="Images per forward pass.")]
    = default(EmbedConfig, "batch"),
    device: DeviceOpt = default(EmbedConfig, "device"),
    visualization: Annotated[str, typer.Option(
        help="2-D map for the App's Embeddings panel: pca | tsne | umap | none.")]
    = default(EmbedConfig, "visualization"),
    similarity: Annotated[bool, typer.Option(help="Build a similarity index for the App.")]
    = default(EmbedConfig, "similarity"),
    engine: Annotated[str, typer.Option(help=choices_help(
        ENGINES, default(EmbedConfig, "engine"), "Where the backbone runs: "))]
    = default(EmbedConfig, "engine"),
    address: RayAddressOpt = default(EmbedConfig, "address"),
    workers: RayWorkersOpt = default(EmbedConfig, "workers"),
    chunk: Annotated[int, typer.Option(
        help="Images embedded, then written and kept, at a time: a killed embed keeps the "
             "finished chunks, and --resume goes on from there.")]
    = default(EmbedConfig, "chunk"),
    resume: Annotated[bool, typer.Option(
        help="Embed only the images of the view without emb_<run> (after an interrupted "
             "embed, or when the pool grew); the map and index are rebuilt over all.")]
    = default(EmbedConfig, "resume"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Store a pretraining run's image embeddings as emb_<run>, with a map and an index.

    --engine ray spreads the images over a Ray cluster (Ray Data, an optional extra), one
    backbone per actor: the embeddings are the same as in this process, stored as they arrive.
    """
    from workbench.cli.console import stdout_to_stderr
    from workbench.ssl.api import embed as run_embed

    ws = open_workspace(workspace)
    config = EmbedConfig(run=run, view=view, batch=batch, device=device,
                         visualization=visualization, similarity=similarity, engine=engine,
                         address=address, workers=workers, chunk=chunk, resume=resume)
    with stdout_to_stderr(), progress_bar(json_, "embedding") as update:
        result = run_embed(ws, config, progress=lambda done, total:
                           update(done, total, "embedding"))
    if json_:
        print_json(result.to_dict())
        return
    where = "" if result.engine == "local" else f" on {result.engine}"
    resumed = f" ({result.skipped} already embedded, skipped)" if result.skipped else ""
    out.print(f"[green]embedded[/] {result.embedded} images{resumed}{where} as "
              f"[bold]{result.embeddings_field}[/] ({result.dim} dims) in {result.seconds:.0f}s")
    if result.visualization_key or result.similarity_key:
        out.print(f"App: Embeddings panel key {result.visualization_key}, similarity index "
                  f"{result.similarity_key}")
    out.print(f"next: workbench select --diversity coreset --embeddings "
              f"{result.embeddings_field} -w {workspace}")


@ssl_app.command()
def probe(
    run: RunOpt,
    train: Annotated[str, typer.Option(help="View whose labeled boxes are the neighbours.")]
    = default(ProbeConfig, "train"),
    val: Annotated[str, typer.Option(help="View whose labeled boxes are classified.")]
    = default(ProbeConfig, "val"),
    k: Annotated[int, typer.Option(help="Neighbours.")] = default(ProbeConfig, "k"),
    crop_size: Annotated[int, typer.Option(help="Box crop size (multiple of 32).")]
    = default(ProbeConfig, "crop_size"),
    max_boxes: Annotated[int, typer.Option(help="At most N boxes per view (0: all).")]
    = default(ProbeConfig, "max_boxes"),
    device: DeviceOpt = default(ProbeConfig, "device"),
    seed: Annotated[int, typer.Option(help="Seed.")] = default(ProbeConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """k-NN accuracy on labeled box crops: the pretrained backbone beside a random one."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.ssl.api import probe as run_probe

    ws = open_workspace(workspace)
    config = ProbeConfig(run=run, train=train, val=val, k=k, crop_size=crop_size,
                         max_boxes=max_boxes, device=device, seed=seed)
    with stdout_to_stderr(), spinner(json_, f"probing {run} ..."):
        result = run_probe(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    table = Table(title=f"{k}-NN probe of {run}: {result.train_boxes} train -> "
                        f"{result.val_boxes} val boxes")
    for col in ("class", "support", "pretrained", "random init"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in result.per_class.items():
        table.add_row(name, str(int(row["support"])), f"{row['accuracy']:.3f}",
                      f"{row['random_accuracy']:.3f}")
    table.add_row("[bold]all[/]", str(result.val_boxes), f"[bold]{result.accuracy:.3f}[/]",
                  f"{result.random_accuracy:.3f}")
    out.print(table)
    out.print(f"majority class: {result.majority_accuracy:.3f}  ({result.seconds:.0f}s)")


@ssl_app.command()
def compare(
    run: RunOpt,
    labels: Annotated[str, typer.Option(help="Labeled subset sizes, e.g. 50,100,200.")]
    = ",".join(map(str, default(CompareConfig, "labels"))),
    seeds: Annotated[int, typer.Option(help="Subsets (and seeds) per size.")]
    = default(CompareConfig, "seeds"),
    baseline: Annotated[str | None, typer.Option(help="Also start from this local .pt.")]
    = default(CompareConfig, "baseline"),
    imgsz: Annotated[int, typer.Option(help="Training input size.")]
    = default(CompareConfig, "imgsz"),
    epochs: Annotated[int, typer.Option(help="Training epochs.")]
    = default(CompareConfig, "epochs"),
    batch: Annotated[int, typer.Option(help="Batch size.")] = default(CompareConfig, "batch"),
    device: DeviceOpt = default(CompareConfig, "device"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Train from the SSL checkpoint and from scratch on the same labeled subsets."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.ssl.api import compare as run_compare

    ws = open_workspace(workspace)
    config = CompareConfig(run=run, labels=parse_labels(labels), seeds=seeds,
                           baseline=baseline, imgsz=imgsz, epochs=epochs, batch=batch,
                           device=device)
    with stdout_to_stderr(), spinner(json_, f"comparing starts of {run} ..."):
        result = run_compare(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    out.print(result.markdown)
    out.print(f"curve: {result.plot}; every point: {result.json}")


def register(app: typer.Typer) -> None:
    """Add the ``ssl`` group (model)."""
    app.add_typer(ssl_app, name="ssl", rich_help_panel=Stage.MODEL.value)
