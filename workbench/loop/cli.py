"""``workbench loop``: simulated rounds (``--simulate``), ``loop next`` and ``loop status``.

Added to the CLI by :func:`register`.
"""

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
    open_workspace,
    out,
    print_json,
    progress_bar,
)
from workbench.loop.config import (
    NextConfig,
    SimConfig,
    StatusConfig,
    next_backends,
    parse_train_args,
    simulation_strategies,
)
from workbench.selection.api import strategy_help

loop_app = typer.Typer(
    help="The active-learning loop: `loop --simulate` measures whether a strategy saves labels "
         "against random on fully labeled data; `loop next` runs one real round; `loop status` "
         "shows the rounds so far.")

_SIM_DEFAULT_STRATEGIES = ",".join(default(SimConfig, "strategies"))


@loop_app.callback(invoke_without_command=True)
def loop_main(
    ctx: typer.Context,
    simulate: Annotated[bool, typer.Option(
        help="Simulate rounds on a fully labeled workspace: the pool's labels are hidden and "
             "revealed by an oracle for the images each round selects.")] = False,
    rounds: Annotated[int, typer.Option(help="Training rounds per simulation.")]
    = default(SimConfig, "rounds"),
    initial: Annotated[int, typer.Option(help="Random initial labeled set (same for every "
                                               "strategy of a seed).")]
    = default(SimConfig, "initial"),
    budget: Annotated[int, typer.Option(help="Images labeled per round.")]
    = default(SimConfig, "budget"),
    strategies: Annotated[str, typer.Option(
        help=f"Comma-separated: {', '.join(simulation_strategies())} "
             "(random is required: savings are measured against it).")]
    = _SIM_DEFAULT_STRATEGIES,
    seeds: Annotated[int, typer.Option(help="Repetitions with different initial sets.")]
    = default(SimConfig, "seeds"),
    model: Annotated[str, typer.Option(help="Model YAML or local .pt, trained every round.")]
    = default(SimConfig, "model"),
    imgsz: Annotated[int, typer.Option(help="Input size (multiple of 32).")]
    = default(SimConfig, "imgsz"),
    epochs: Annotated[int, typer.Option(help="Epochs per round (no early stopping).")]
    = default(SimConfig, "epochs"),
    batch: Annotated[int, typer.Option(help="Batch size.")] = default(SimConfig, "batch"),
    pool: Annotated[str, typer.Option(help="Source view forming the pool.")]
    = default(SimConfig, "pool"),
    val: Annotated[str, typer.Option(help="Fixed validation view.")]
    = default(SimConfig, "val"),
    train_arg: Annotated[list[str] | None, typer.Option(
        "--train-arg", help="Further Ultralytics training argument KEY=VALUE (repeatable), "
                            "e.g. lr0=0.002; default val=False.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Results folder; re-running with the "
                                                        "same folder resumes.")]
    = Path("loop-simulation"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Simulate active-learning rounds, or run/see real ones (subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    if not simulate:
        out.print(ctx.get_help())
        raise typer.Exit(0)
    from workbench.cli.console import stdout_to_stderr
    from workbench.loop.api import saving_text
    from workbench.loop.api import simulate as run_simulation

    cfg = SimConfig(rounds=rounds, initial=initial, budget=budget,
                    strategies=tuple(s.strip() for s in strategies.split(",") if s.strip()),
                    seeds=seeds, model=model, imgsz=imgsz, epochs=epochs, batch=batch,
                    pool=pool, val=val,
                    overrides={**default(SimConfig, "overrides"), **parse_train_args(train_arg)})
    ws = open_workspace(workspace)
    with stdout_to_stderr(), progress_bar(json_, "simulating") as update:
        result = run_simulation(ws, cfg, out_dir, progress=update)
    summary = result.to_dict()
    if json_:
        print_json(summary)
        return
    table = Table(title=f"active learning on {ws.config.name}: {seeds} seeds, {rounds} rounds")
    for col in ("strategy", "labeled images", "labeled boxes", "final mAP50",
                "labels to match random (images)", "labels to match random (boxes)",
                "seeds reached"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, row in summary["strategies"].items():
        table.add_row(name, str(row["final_labeled_images"]),
                      f"{row['final_labeled_boxes_mean']:.0f} ± "
                      f"{row['final_labeled_boxes_std']:.0f}",
                      f"{row['final_map50_mean']:.3f} ± {row['final_map50_std']:.3f}",
                      saving_text(row), saving_text(row, "label_saving_boxes"),
                      _reached(row))
    out.print(table)
    out.print(f"curves: {summary['curves']}\nplot: {summary['plot']}")


def _reached(row: dict[str, Any]) -> str:
    """Seeds that reached random's final mAP50, counted in images / in boxes."""
    got = [row.get(k) for k in ("label_saving", "label_saving_boxes")]
    if got[0] is None:
        return ""
    return " / ".join(f"{s['reached']}/{s['seeds']}" for s in got if s is not None)


@loop_app.command("next")
def next_cmd(
    budget: Annotated[int, typer.Option(help="Images to select.")]
    = default(NextConfig, "budget"),
    strategy: Annotated[str, typer.Option(help=f"Selection strategy: {strategy_help()}.")]
    = default(NextConfig, "strategy"),
    model: Annotated[str, typer.Option(help="Model to train when labels changed.")]
    = default(NextConfig, "model"),
    imgsz: Annotated[int, typer.Option(help="Input size.")] = default(NextConfig, "imgsz"),
    epochs: Annotated[int, typer.Option(help="Training epochs.")]
    = default(NextConfig, "epochs"),
    backend: Annotated[str, typer.Option(
        help=f"package (a zip) or {' / '.join(next_backends()[1:])} (push).")]
    = default(NextConfig, "backend"),
    out_path: Annotated[Path | None, typer.Option("--out", help="Package path.")] = None,
    url: Annotated[str | None, typer.Option(help="Label Studio URL.")] = None,
    project: Annotated[str | None, typer.Option(help="Label Studio project.")] = None,
    allow_missing_classes: Annotated[bool, typer.Option(
        help="Train even if some classes have no labeled box yet.")]
    = default(NextConfig, "allow_missing_classes"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """One real round: train (or reuse the model of unchanged labels), predict, select, send."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.loop.api import next_round

    cfg = NextConfig(budget=budget, strategy=strategy, model=model, imgsz=imgsz, epochs=epochs,
                     backend=backend, out=out_path, url=url, project=project,
                     allow_missing_classes=allow_missing_classes)
    ws = open_workspace(workspace)
    with stdout_to_stderr(), progress_bar(json_, "training") as update:
        result = next_round(ws, cfg, on_epoch=lambda e, n, _m: update(e, n, "training"))
    if json_:
        print_json(result.to_dict())
        return
    how = "reused" if result.model_reused else "trained"
    out.print(f"{how} {result.model_run} (val mAP50 {result.map50:.3f}); selected "
              f"{result.selected} images by {result.strategy} as [bold]{result.round}[/]")
    out.print(f"next: {result.next}")


@loop_app.command("status")
def status_cmd(workspace: WorkspaceOpt = Path("."), json_: JsonOpt = False) -> None:
    """Rounds, label counts and mAP per round, as a table and a plot."""
    from workbench.loop.api import status

    ws = open_workspace(workspace)
    result = status(ws, StatusConfig(plot=ws.root / "runs" / "loop" / "status.png")).to_dict()
    if json_:
        print_json(result)
        return
    table = Table(title=f"rounds ({result['labeled_images']} labeled images)")
    for col in ("round", "strategy", "selected", "labeled", "in annotation", "model",
                "model's labeled", "mAP50"):
        table.add_column(col)
    for r in result["rounds"]:
        st = r["status"]
        table.add_row(r["round"], str(r["strategy"] or ""), str(r["selected"]),
                      str(st.get("labeled", 0)), str(st.get("in_annotation", 0)),
                      str(r["model_run"] or ""), str(r["model_train_images"] or ""),
                      "" if r["model_map50"] is None else f"{r['model_map50']:.3f}")
    out.print(table)
    if "plot" in result:
        out.print(f"plot: {result['plot']}")


def register(app: typer.Typer) -> None:
    """Add the ``loop`` group (loop)."""
    app.add_typer(loop_app, name="loop", rich_help_panel=Stage.LOOP.value)
