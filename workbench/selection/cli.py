"""``workbench select``: choose pool images to label."""

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
)
from workbench.selection.api import DIVERSITY, SelectConfig, strategy_help


def select(
    uncertain: Annotated[int | None, typer.Option(help="Select N images by uncertainty.")] = None,
    random: Annotated[int | None, typer.Option(
        "--random", help="Select N images at random (the baseline).")] = None,
    run: Annotated[str | None, typer.Option(help="Prediction run to score (default: latest).")]
    = default(SelectConfig, "run"),
    strategy: Annotated[str, typer.Option(help=strategy_help())]
    = default(SelectConfig, "strategy"),
    aggregate: Annotated[str, typer.Option(help="Per image: max | mean | sum | topk:K")]
    = default(SelectConfig, "aggregate"),
    diversity: Annotated[str, typer.Option(help=DIVERSITY.choices())]
    = default(SelectConfig, "diversity"),
    embeddings: Annotated[str | None, typer.Option(help="Embedding field for diversity.")]
    = default(SelectConfig, "embeddings"),
    class_balance: Annotated[bool, typer.Option(
        help="Equal quotas per predicted class.")] = default(SelectConfig, "class_balance"),
    class_weight: Annotated[list[str] | None, typer.Option(
        help="NAME=W: multiply the scores of boxes of class NAME by W (repeatable).")] = None,
    conf_band: Annotated[tuple[float, float] | None, typer.Option(
        help="LO HI: score images by the number of boxes with confidence in [LO, HI].")]
    = default(SelectConfig, "conf_band"),
    empty_score: Annotated[float, typer.Option(
        help="Score of images without predicted boxes (1.0: treat as uncertain).")]
    = default(SelectConfig, "empty_score"),
    round_: Annotated[str | None, typer.Option("--round", help="Round name (default round-K).")]
    = default(SelectConfig, "round"),
    replace: Annotated[bool, typer.Option(help="Redo an existing round.")]
    = default(SelectConfig, "replace"),
    seed: Annotated[int, typer.Option(help="Seed for tie-breaks and random picks.")]
    = default(SelectConfig, "seed"),
    dry_run: Annotated[bool, typer.Option(help="Show the choice, change nothing.")]
    = default(SelectConfig, "dry_run"),
    sample_id: Annotated[list[str] | None, typer.Option(
        help="With --strategy hand-picked: an image to queue (repeatable; the App queues its "
             "selection this way).")] = None,
    calibrated: Annotated[bool, typer.Option(
        "--calibrated", help="Score the run's boxes after its stored calibration (workbench "
                             "calibrate --run RUN): uncertainty from calibrated probabilities.")]
    = default(SelectConfig, "calibrated"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Choose pool images to label: by uncertainty (--uncertain N) or at random (--random N)."""
    from workbench.errors import ConfigError
    from workbench.selection.api import select as run_select

    if (uncertain is None) == (random is None):
        raise ConfigError("give exactly one of --uncertain N or --random N")
    config = SelectConfig.from_options(
        n=int(uncertain or random or 0), class_weight=class_weight or [], run=run,
        strategy="random" if random is not None else strategy, aggregate=aggregate,
        diversity=diversity, embeddings=embeddings, class_balance=class_balance,
        conf_band=conf_band, empty_score=empty_score, round=round_, replace=replace, seed=seed,
        dry_run=dry_run, sample_ids=sample_id or [], calibrated=calibrated)
    result = run_select(open_workspace(workspace), config)
    if json_:
        print_json({k: v for k, v in result.to_dict().items() if k != "scores"})
        return
    for w in result.warnings:
        err.print(f"[yellow]warning[/] {w}")
    verb = "would select" if dry_run else "selected"
    out.print(f"[green]{verb}[/] {result.selected} of {result.candidates} pool images by "
              f"{result.strategy}" + (f" (run {result.run})" if result.run else "")
              + f" as round [bold]{result.round}[/] in {result.seconds:.2f}s")
    if result.scores:
        out.print(f"scores: highest {max(result.scores):.4f}, lowest {min(result.scores):.4f}")


def register(app: typer.Typer) -> None:
    """Add ``select`` (selection)."""
    app.command(rich_help_panel=Stage.SELECTION.value)(select)
