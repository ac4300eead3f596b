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
from workbench.training.eval_config import EvalConfig, EvalResult


def evaluate(
    run: Annotated[str | None, typer.Option(
        help="Training run whose best weights to evaluate.")] = default(EvalConfig, "run"),
    model: Annotated[str | None, typer.Option(
        help="Evaluate this local .pt, or an .onnx from `workbench export`, instead of a "
             "run's weights.")]
    = default(EvalConfig, "model"),
    predictions: Annotated[str | None, typer.Option(
        help="Evaluate the boxes stored by this prediction run (predict, predictions import, "
             "ensemble) instead of predicting; an ensemble is shown beside its members.")]
    = default(EvalConfig, "predictions"),
    split: Annotated[str, typer.Option(help="Split to evaluate on (when no --view).")]
    = default(EvalConfig, "split"),
    view: Annotated[str | None, typer.Option(
        help="Evaluate the labeled images of this view instead (source:NAME, round:NAME, "
             "split:NAME, tag:NAME; joined by ',').")]
    = default(EvalConfig, "view"),
    conf: Annotated[float, typer.Option(help="Minimum confidence of evaluated boxes.")]
    = default(EvalConfig, "conf"),
    iou: Annotated[float, typer.Option(help="IoU for the per-box TP/FP/FN fields.")]
    = default(EvalConfig, "iou"),
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index.")]
    = default(EvalConfig, "device"),
    deploy_conf: Annotated[float, typer.Option(
        help="Confidence threshold of precision/recall, per-class recall and the confusion "
             "matrix.")]
    = default(EvalConfig, "deploy_conf"),
    target_precision: Annotated[float, typer.Option(
        help="Report each class's highest recall at this precision or better.")]
    = default(EvalConfig, "target_precision"),
    critical: Annotated[str | None, typer.Option(
        help="Critical classes (a,b): flagged when their recall at the deploy threshold is "
             "below --min-recall.")] = default(EvalConfig, "critical"),
    min_recall: Annotated[float, typer.Option(
        help="The least recall a critical class should reach.")]
    = default(EvalConfig, "min_recall"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Predict a split or a view with a run's weights and evaluate (COCO-style), storing
    TP/FP/FN; or evaluate a stored prediction run (--predictions)."""
    from workbench.cli.console import stdout_to_stderr
    from workbench.training.api import evaluate as run_evaluate

    config = EvalConfig(run=run, model=model, predictions=predictions, split=split, view=view,
                        conf=conf, iou=iou, device=device, deploy_conf=deploy_conf,
                        target_precision=target_precision,
                        critical=critical.split(",") if critical else None,
                        min_recall=min_recall)
    ws = open_workspace(workspace)
    what = f"evaluating {predictions or run or model} on {view or split} ..."
    with stdout_to_stderr(), spinner(json_, what):
        report = run_evaluate(ws, config)
    if json_:
        print_json(report.to_dict())
        return
    _print_report(report)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _print_report(report: EvalResult) -> None:
    table = Table(title=f"{report.run} on {report.view} ({report.images} images): mAP50 "
                        f"{report.map50:.3f}, mAP50-95 {report.map50_95:.3f}")
    columns = ("class", "AP50", "AP50-95", "support", f"recall@{report.conf_threshold:g}",
               f"recall@P{report.target_precision:g}", "at conf")
    for col in columns:
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in report.per_class.items():
        label = f"[red]{name} (critical)[/red]" if name in report.critical_below else (
            f"{name} (critical)" if name in report.critical else name)
        table.add_row(label, f"{row['ap50']:.3f}", f"{row['ap50_95']:.3f}", str(row["support"]),
                      _num(row.get("recall")), _num(row.get("recall_at_precision")),
                      _num(row.get("conf_at_precision")))
    out.print(table)
    out.print(f"AP75 {report.ap75:.3f}, AP small {_num(report.ap_small)} / medium "
              f"{_num(report.ap_medium)} / large {_num(report.ap_large)} (areas < 32², "
              f"32²-96², > 96² px), AR@100 {report.ar:.3f}")
    out.print(f"precision {report.precision:.3f}, recall {report.recall:.3f} at confidence >= "
              f"{report.conf_threshold}; report and plots in {report.report_dir}")
    if report.critical_below:
        out.print(f"[red]critical classes below recall {report.min_recall:g} at confidence >= "
                  f"{report.conf_threshold}: {', '.join(report.critical_below)}[/red]")
    elif report.critical:
        out.print(f"critical classes {', '.join(report.critical)}: recall >= "
                  f"{report.min_recall:g} at confidence >= {report.conf_threshold}")
    out.print(f"in the App, filter `{report.pred_field}` by `{report.eval_key}` = fp to see "
              "false positives (`workbench app`)")
    if report.members:
        _print_members(report)


def _print_members(report: EvalResult) -> None:
    """The members (or TTA passes) and the fusion side by side; the best mAP50 in bold."""
    rows = report.members
    best = max(row["map50"] for row in rows)
    table = Table(title=f"{report.run} beside its members, on the {report.member_images} "
                        "labeled images holding them all (numpy COCO)")
    for col in ("run", "mAP50", "mAP50-95", "boxes", ""):
        table.add_column(col, justify="left" if col in ("run", "") else "right")
    for i, row in enumerate(rows):
        top = row["map50"] == best
        fusion = row["role"] == "fusion"
        map50 = f"[bold]{row['map50']:.3f}[/bold]" if top else f"{row['map50']:.3f}"
        table.add_row(f"fusion ({row['run']})" if fusion else row["run"], map50,
                      f"{row['map50_95']:.3f}", str(row["boxes"]), "best mAP50" if top else "",
                      end_section=i + 1 < len(rows) and rows[i + 1]["role"] == "fusion")
    out.print(table)
