"""``workbench evaluate``: the command (registered by :mod:`workbench.training.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from workbench.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    default,
    open_workspace,
    out,
    print_json,
    spinner,
)
from workbench.training.eval_config import EvalConfig


def evaluate(
    run: Annotated[str | None, typer.Option(
        help="Training run whose best weights to evaluate.")] = default(EvalConfig, "run"),
    model: Annotated[str | None, typer.Option(
        help="Evaluate this local .pt instead of a run's weights.")]
    = default(EvalConfig, "model"),
    split: Annotated[str, typer.Option(help="Split to evaluate on.")]
    = default(EvalConfig, "split"),
    conf: Annotated[float, typer.Option(help="Minimum confidence of evaluated boxes.")]
    = default(EvalConfig, "conf"),
    iou: Annotated[float, typer.Option(help="IoU for the per-box TP/FP/FN fields.")]
    = default(EvalConfig, "iou"),
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index.")]
    = default(EvalConfig, "device"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Predict a split with a run's weights and evaluate (COCO-style), storing TP/FP/FN."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.training.api import evaluate as run_evaluate

    ws = open_workspace(workspace)
    with stdout_to_stderr(), spinner(json_, f"evaluating {run or model} on {split} ..."):
        report = run_evaluate(ws, EvalConfig(run=run, model=model, split=split, conf=conf,
                                             iou=iou, device=device))
    if json_:
        print_json(report.to_dict())
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
