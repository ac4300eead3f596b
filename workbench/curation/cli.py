"""Commands of the workspace and its curation: init, status, recover, runs, split, check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from workbench.curation import db_cli
from workbench.curation.config import RUN_KINDS, CheckConfig, InitConfig, RunsConfig, SplitConfig


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Dataset name (default: folder name).")]
    = default(InitConfig, "name"),
    classes: Annotated[str | None, typer.Option(
        help="Comma-separated class list, e.g. fish,shark. Default: taken from the first "
             "labeled ingest.")] = None,
    database_uri: Annotated[str | None, typer.Option(
        help="External MongoDB URI. Default: embedded mongod, data inside the workspace.")]
    = default(InitConfig, "database_uri"),
    json_: JsonOpt = False,
) -> None:
    """Create a workspace: workbench.yaml plus one FiftyOne dataset."""
    from workbench.curation.api import init as run_init

    class_list = [c.strip() for c in classes.split(",") if c.strip()] if classes else []
    result = run_init(directory, InitConfig(name=name, classes=class_list,
                                            database_uri=database_uri))
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]created[/] workspace {result.workspace} (dataset [bold]{result.dataset}[/], "
              f"{result.database})")
    out.print(f"next: workbench ingest PATH --format yolo -w {result.workspace}")


def status(
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the status as a Markdown document (tables).")] = False,
) -> None:
    """Counts of samples and boxes per source, split, status and class; rounds and runs."""
    from workbench.curation.api import status as run_status
    from workbench.curation.api import status_markdown

    result = run_status(open_workspace(workspace))
    report = result.to_dict()
    if json_:
        print_json(report)
        return
    if markdown:
        sys.stdout.write(status_markdown(result))
        return
    out.print(f"workspace [bold]{report['workspace']}[/] — dataset {report['dataset']} "
              f"({report['database']}): {report['samples']} samples, {report['boxes']} boxes")
    for key in ("splits", "status", "sources"):
        table = Table(title=key)
        table.add_column(key.rstrip("s") if key != "status" else "status")
        table.add_column("samples", justify="right")
        table.add_column("boxes", justify="right")
        for name, row in report[key].items():
            table.add_row(name, str(row["samples"]), str(row["boxes"]))
        out.print(table)
    table = Table(title="classes")
    for col in ("class", "images", "boxes", "train", "val", "test"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in report["classes"].items():
        by = row.get("by_split", {})
        table.add_row(name, str(row["images"]), str(row["boxes"]),
                      *(str(by.get(s, {}).get("boxes", 0)) for s in ("train", "val", "test")))
    out.print(table)
    if report["round_progress"]:
        table = Table(title="rounds")
        for col in ("round", "strategy", "selected", "queued", "in annotation", "labeled",
                    "back in pool"):
            table.add_column(col, justify="left" if col in ("round", "strategy") else "right")
        for r in report["round_progress"]:
            table.add_row(r["round"], r["strategy"] or "", str(r["selected"]), str(r["queued"]),
                          str(r["in_annotation"]), str(r["labeled"]), str(r["unlabeled"]))
        out.print(table)
    for command in report["running"]:
        err.print(f"[yellow]in progress[/]: {command} is writing the workspace; these counts "
                  "may change when it finishes")


def recover(workspace: WorkspaceOpt = Path("."), json_: JsonOpt = False) -> None:
    """Roll back what a killed or crashed command left half-written.

    Every command that writes does this first, in one line; status, check and train refuse
    a workspace that needs it. Exit 0 also when there was nothing to recover.
    """
    from workbench.curation.api import recover as run_recover

    result = run_recover(open_workspace(workspace))
    if json_:
        print_json(result.to_dict())
        return
    for r in result.recovered:
        out.print(f"[green]recovered[/]: {r.describe()}", highlight=False)
    if not result.recovered:
        out.print("nothing to recover: every operation finished")


def runs_command(
    kind: Annotated[str | None, typer.Option(
        help=f"Only this kind: {', '.join(RUN_KINDS)}.")] = default(RunsConfig, "kind"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """List the workspace's runs (ingests, splits, trainings, evaluations), oldest first."""
    from workbench.curation.api import runs as run_runs

    config = RunsConfig(kind=kind)
    rows = run_runs(open_workspace(workspace), config).rows
    if json_:
        print_json(rows)
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


def split(
    ratios: Annotated[str | None, typer.Option(
        help="train,val,test fractions (default: the workspace's, 0.7,0.15,0.15).")]
    = default(SplitConfig, "ratios"),
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives the same split.")]
    = default(SplitConfig, "seed"),
    group_by: Annotated[str | None, typer.Option(
        help="Sample field whose equal values must share a split (default: group).")]
    = default(SplitConfig, "group_by"),
    reset: Annotated[bool, typer.Option(
        help="Redistribute every labeled image, test included (default: keep assigned images "
             "where they are and place only new ones).")] = default(SplitConfig, "reset"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Split labeled images into train/val/test: per-class stratified, group-aware."""
    from workbench.curation.api import split as run_split

    ws = open_workspace(workspace)
    result = run_split(ws, SplitConfig(ratios=ratios, seed=seed, group_by=group_by, reset=reset))
    if json_:
        print_json(result.to_dict())
        return
    table = Table(title=f"split ({result.moved} images placed or moved)")
    table.add_column("class")
    for name, n in result.counts.items():
        table.add_column(f"{name} ({n})", justify="right")
    for cls, row in result.per_class.items():
        table.add_row(cls, *(str(v) for v in row.values()))
    out.print(table)


def check(
    group_by: Annotated[str | None, typer.Option(
        help="Field that defines groups for the leak check (default: group).")]
    = default(CheckConfig, "group_by"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Find duplicates across splits, group leaks, boxes outside images, empty classes.

    Exits with status 1 when it finds a leak or a box outside its image.
    """
    from workbench.curation.api import check as run_check

    result = run_check(open_workspace(workspace), CheckConfig(group_by=group_by))
    if json_:
        print_json(result.to_dict())
    else:
        for d in result.duplicates[:10]:
            err.print(f"[red]leak[/] same image in {', '.join(d['splits'])}: "
                      + ", ".join(s["filepath"] for s in d["samples"]))
        for g in result.group_leaks[:10]:
            err.print(f"[red]leak[/] group {g['key']!r} spans {', '.join(g['splits'])} "
                      f"({len(g['samples'])} images)")
        for b in result.boxes_outside[:10]:
            err.print(f"[red]box outside image[/] {b['filepath']}: {b['label']} "
                      f"{[round(v, 4) for v in b['bounding_box']]}")
        if result.empty_classes:
            err.print(f"[yellow]classes without boxes[/]: {', '.join(result.empty_classes)}")
        for c, missing in result.classes_missing_from_split.items():
            err.print(f"[yellow]class {c} missing from[/] {', '.join(missing)}")
        if result.inconsistent_count:
            err.print(f"[red]{result.inconsistent_count} samples are inconsistent[/] (e.g. "
                      + "; ".join(f"{s['filepath']}: {', '.join(s['problems'])}"
                                  for s in result.inconsistent[:3])
                      + "); tags mirror status and split: re-run the command that changed them "
                      "or fix the tags in the App")
        for d in result.duplicate_hashes[:10]:
            err.print(f"[red]stored twice[/] the same image ({d['samples']} samples): "
                      + ", ".join(d["filepaths"]))
        if result.unassigned:
            err.print(f"[yellow]{result.unassigned} labeled images have no split[/]: "
                      "run `workbench split`")
        if result.ok:
            out.print("[green]ok[/]: no leaks, all boxes inside their images, status, split "
                      "and tags agree")
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``init``, ``status``, ``recover``, ``runs`` (workspace), ``split``, ``check``."""
    app.command(rich_help_panel=Stage.WORKSPACE.value)(init)
    app.command(rich_help_panel=Stage.WORKSPACE.value)(status)
    app.command(rich_help_panel=Stage.WORKSPACE.value)(recover)
    app.command("runs", rich_help_panel=Stage.WORKSPACE.value)(runs_command)
    app.command(rich_help_panel=Stage.DATA.value)(split)
    app.command(rich_help_panel=Stage.DATA.value)(check)
    db_cli.register(app)
