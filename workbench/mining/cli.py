"""``workbench mine``: hard negatives, confusions and misses of a run, as views and a round."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    open_workspace,
    out,
    print_json,
    progress_bar,
)
from workbench.errors import ConfigError
from workbench.mining.config import CHOOSERS, MineConfig, MineResult


def _names(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _counts(text: str | None) -> list[int]:
    try:
        return [int(s) for s in _names(text)]
    except ValueError as exc:
        raise ConfigError(f"--per-pass takes whole numbers like 7,4,9, got {text!r}") from exc


def mine(
    run: Annotated[str, typer.Option(help="The training run whose mistakes to mine.")],
    view: Annotated[str, typer.Option(help="Labeled images to evaluate it on (a view spec).")]
    = default(MineConfig, "view"),
    fp_conf: Annotated[float, typer.Option(
        help="Count false positives (and recall) at this confidence.")]
    = default(MineConfig, "fp_conf"),
    iou: Annotated[float, typer.Option(help="IoU of a match.")] = default(MineConfig, "iou"),
    similar: Annotated[int, typer.Option(
        metavar="K", help="Queue the K pool images most similar to each false-positive crop "
                          "as a round (0: off).")] = default(MineConfig, "similar"),
    embeddings: Annotated[str | None, typer.Option(
        help="The pool's embedding field for --similar (emb_<run>); default: the detector's "
             "own backbone features.")] = default(MineConfig, "embeddings"),
    round_: Annotated[str | None, typer.Option(
        "--round", help="Name of the --similar round (default mine-<run>).")]
    = default(MineConfig, "round"),
    negatives: Annotated[str | None, typer.Option(
        help="Images known to hold no object (e.g. tag:negative from `ingest --negatives`): "
             "those the model fires on become labeled negatives (undo: `annotate undo ID`).")]
    = default(MineConfig, "negatives"),
    per_iteration: Annotated[int, typer.Option(
        help="Label at most this many negatives per pass (0: all that fire).")]
    = default(MineConfig, "per_iteration"),
    per_pass: Annotated[str | None, typer.Option(
        help="Negatives per pass, e.g. 7,4,9 (overrides --per-iteration for those passes: "
             "give a random baseline the counts the hardest arm labeled).")] = None,
    choose: Annotated[str, typer.Option(
        help=f"Which negatives: {' | '.join(CHOOSERS)} (random: the baseline, as many drawn "
             "at random).")] = default(MineConfig, "choose"),
    iterations: Annotated[int, typer.Option(
        help="Repeat mine -> add negatives -> retrain -> evaluate this many times.")]
    = default(MineConfig, "iterations"),
    epochs: Annotated[int, typer.Option(help="Epochs of each retrain.")]
    = default(MineConfig, "epochs"),
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the run's).")]
    = default(MineConfig, "imgsz"),
    batch: Annotated[int, typer.Option(help="Batch size of each retrain.")]
    = default(MineConfig, "batch"),
    critical: Annotated[str | None, typer.Option(
        help="Classes whose recall to follow per pass, e.g. lionfish,urchin.")] = None,
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index.")]
    = default(MineConfig, "device"),
    seed: Annotated[int, typer.Option(help="Seed of random draws and retrains.")]
    = default(MineConfig, "seed"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Mine a run's confident false positives, class confusions and misses (saved views
    fp_/confusions_/misses_<run>); queue look-alikes, label hard negatives, iterate."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.mining.api import mine as run_mine

    ws = open_workspace(workspace)
    config = MineConfig(run=run, view=view, fp_conf=fp_conf, iou=iou, similar=similar,
                        embeddings=embeddings, round=round_, negatives=negatives,
                        per_iteration=per_iteration, per_pass=_counts(per_pass),
                        choose=choose, iterations=iterations,
                        epochs=epochs, imgsz=imgsz, batch=batch, critical=_names(critical),
                        device=device, seed=seed)
    with stdout_to_stderr(), progress_bar(json_, "mining") as update:
        result = run_mine(ws, config, lambda stage, done, total: update(done, total, stage))
    if json_:
        print_json(result.to_dict())
        return
    _print(result, config)


def _print(result: MineResult, config: MineConfig) -> None:
    table = Table(title=f"{result.run} on {result.view} ({result.images} images), confidence "
                        f">= {result.fp_conf:g}: {result.false_positives} false positives "
                        f"({result.fp_per_image:.2f}/image, precision {result.precision:.2f}), "
                        f"{result.confusions} confusions, "
                        f"{result.misses} misses")
    for col in ("class", "false pos.", "confusions", "misses", "ground truth", "recall"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in result.per_class.items():
        recall = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        style = "bold red" if name in config.critical else None
        table.add_row(name, str(row["false_positives"]), str(row["confusions"]),
                      str(row["misses"]), str(row["ground_truth"]), recall, style=style)
    out.print(table)
    for pair in result.confusion_pairs[:5]:
        out.print(f"  {pair['actual']} taken for {pair['predicted']}: {pair['count']}")
    if result.views:
        out.print(f"saved views (App view selector): {', '.join(result.views)}")
    if result.negatives:
        neg = result.negatives
        out.print(f"negatives: {neg.get('labeled', 0)} labeled"
                  + (f" (undo: workbench annotate undo {neg['import_id']})"
                     if neg.get("import_id") else ""))
    if result.similar:
        sim = result.similar
        out.print(f"similar: {sim['queued']} pool images queued as round {sim['round'] or '-'} "
                  f"from {sim['crops']} false-positive crops")
    if result.iterations:
        it = Table(title="mining passes")
        names = list(result.iterations[0]["recall"])
        for col in ("pass", "run", "FP/image", "precision", "mAP50", "negatives added", *names):
            it.add_column(col, justify="right")
        for row in result.iterations:
            it.add_row(str(row["iteration"]), row["run"], f"{row['fp_per_image']:.3f}",
                       f"{row['precision']:.3f}", f"{row['map50']:.3f}",
                       str(row["negatives_added"]),
                       *["-" if row["recall"][n] is None else f"{row['recall'][n]:.2f}"
                         for n in names])
        out.print(it)
        out.print(f"plot: {result.plot}")
    out.print(f"report: {result.report}")


def register(app: typer.Typer) -> None:
    """Add ``mine`` (model)."""
    app.command(rich_help_panel=Stage.MODEL.value)(mine)
