"""Command-line interface. Thin: parse options, call one library function, print.

Heavy imports (fiftyone) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from workbench.errors import WorkbenchError

app = typer.Typer(
    name="workbench",
    help="Data-centric active learning for object detection, on a FiftyOne store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="WORKBENCH_WORKSPACE",
                 help="Workspace folder (holds workbench.yaml).", show_default="current folder"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def _open(path: Path) -> Any:
    from workbench.store.workspace import open_workspace

    return open_workspace(path)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Dataset name (default: folder name).")] = None,
    classes: Annotated[str | None, typer.Option(
        help="Comma-separated class list, e.g. fish,shark. Default: taken from the first "
             "labeled ingest.")] = None,
    database_uri: Annotated[str | None, typer.Option(
        help="External MongoDB URI. Default: embedded mongod, data inside the workspace.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a workspace: workbench.yaml plus one FiftyOne dataset."""
    from workbench.store.workspace import init_workspace

    class_list = [c.strip() for c in classes.split(",") if c.strip()] if classes else []
    ws = init_workspace(directory, name=name, classes=class_list, database_uri=database_uri)
    info = {"workspace": str(ws.root), "dataset": ws.config.name, "classes": ws.classes,
            "database": ws.target.describe()}
    if json_:
        _print_json(info)
        return
    out.print(f"[green]created[/] workspace {ws.root} (dataset [bold]{ws.config.name}[/], "
              f"{ws.target.describe()})")
    out.print(f"next: workbench ingest PATH --format yolo -w {ws.root}")


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="File or folder to ingest (see --format).")],
    format: Annotated[str, typer.Option(
        "--format", "-f",
        help="yolo (data.yaml or its folder) | coco (JSON) | voc (XML folder) | jsonl | "
             "classdir (one folder per class) | images (unlabeled folder) | npz (captures)")],
    source: Annotated[str | None, typer.Option(
        help="Provenance name stored on each sample (default: the path's name).")] = None,
    unlabeled: Annotated[bool, typer.Option(
        help="Ignore labels: ingest the images into the pool as unlabeled.")] = False,
    skip_bad: Annotated[bool, typer.Option(
        help="Ingest the valid images and report the bad ones (default: change nothing).")] = False,
    add_classes: Annotated[bool, typer.Option(
        help="Append class names the workspace does not know (default: report them).")] = False,
    images: Annotated[Path | None, typer.Option(
        help="Image folder for coco/voc/jsonl when images are not beside the annotations.")] = None,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Ingest images and labels; re-ingesting the same files adds nothing."""
    from workbench.ingestion import ingest as run_ingest

    ws = _open(workspace)
    with _input_report(json_), _spinner(json_, f"ingesting {path} ({format}) ..."):
        result = run_ingest(ws, path, format, source=source, unlabeled=unlabeled,
                            skip_bad=skip_bad, add_classes=add_classes, images_dir=images)
    if json_:
        _print_json(result.to_dict())
        return
    _print_issues(result.issues)
    out.print(
        f"[green]ingested[/] {result.added} new images, {result.boxes_added} boxes from "
        f"{result.images_found} found ({result.already_present} already in the workspace, "
        f"{result.duplicates_in_input} duplicates in the input, {result.skipped_bad} skipped "
        f"as bad) in {result.seconds:.1f}s" + (f"; run {result.run}" if result.run else ""))
    if result.classes_added:
        out.print(f"classes added to the workspace: {', '.join(result.classes_added)}")


@contextlib.contextmanager
def _input_report(json_: bool) -> Iterator[None]:
    """On a validation failure, print its full report (JSON or issue list), then re-raise."""
    from workbench.errors import InputReportError

    try:
        yield
    except InputReportError as exc:
        if json_:
            _print_json(exc.result.to_dict())
        else:
            _print_issues(exc.result.issues)
        raise


def _spinner(json_: bool, message: str) -> contextlib.AbstractContextManager[Any]:
    """A status spinner on stderr, or nothing with --json."""
    return contextlib.nullcontext() if json_ else err.status(message)


def _print_issues(issues: list[Any], per_kind: int = 5) -> None:
    """Counts per kind plus the first few examples with file and line."""
    if not issues:
        return
    by_kind: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for issue in issues:
        by_kind[(issue.severity, issue.kind)].append(issue)
    for (severity, kind), items in sorted(by_kind.items()):
        color = "red" if severity == "error" else "yellow"
        err.print(f"[{color}]{severity}[/] {kind}: {len(items)}")
        for issue in items[:per_kind]:
            err.print(f"  {issue.where()}: {issue.message}", markup=False, highlight=False)
        if len(items) > per_kind:
            err.print(f"  ... and {len(items) - per_kind} more (--json lists all)")


@app.command()
def split(
    ratios: Annotated[str | None, typer.Option(
        help="train,val,test fractions (default: the workspace's, 0.7,0.15,0.15).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives the same split.")]
    = None,
    group_by: Annotated[str | None, typer.Option(
        help="Sample field whose equal values must share a split (default: group).")] = None,
    reset: Annotated[bool, typer.Option(
        help="Redistribute every labeled image, test included (default: keep assigned images "
             "where they are and place only new ones).")] = False,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Split labeled images into train/val/test: per-class stratified, group-aware."""
    from workbench.splitting import split as run_split

    result = run_split(_open(workspace), ratios=ratios, seed=seed, group_by=group_by, reset=reset)
    if json_:
        _print_json(result.to_dict())
        return
    table = Table(title=f"split ({result.moved} images placed or moved)")
    table.add_column("class")
    for name, n in result.counts.items():
        table.add_column(f"{name} ({n})", justify="right")
    for cls, row in result.per_class.items():
        table.add_row(cls, *(str(v) for v in row.values()))
    out.print(table)


@app.command()
def check(
    group_by: Annotated[str | None, typer.Option(
        help="Field that defines groups for the leak check (default: group).")] = None,
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Find duplicates across splits, group leaks, boxes outside images, empty classes.

    Exits with status 1 when it finds a leak or a box outside its image.
    """
    from workbench.checking import check as run_check

    result = run_check(_open(workspace), group_by=group_by)
    if json_:
        _print_json(result.to_dict())
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
        if result.unassigned:
            err.print(f"[yellow]{result.unassigned} labeled images have no split[/]: "
                      "run `workbench split`")
        if result.ok:
            out.print("[green]ok[/]: no leaks, all boxes inside their images")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def status(workspace: WorkspaceOpt = Path("."), json_: JsonOpt = False) -> None:
    """Counts of samples and boxes per source, split, status and class."""
    from workbench.status_report import status as run_status

    report = run_status(_open(workspace))
    if json_:
        _print_json(report)
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
    if report["rounds"]:
        out.print("rounds: " + ", ".join(f"{k} ({v['samples']})"
                                         for k, v in report["rounds"].items()))


@app.command("app")
def app_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5151,
    open_browser: Annotated[bool, typer.Option("--open/--no-open",
                                               help="Open a browser tab.")] = True,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Open the FiftyOne App for the workspace (plugins/ registered). Ctrl-C stops it."""
    from workbench.app import launch

    session = launch(_open(workspace), port=port, open_browser=open_browser)
    out.print(f"FiftyOne App: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    session.wait(-1)


from workbench import cli_annotate, cli_export, cli_loop, cli_models  # noqa: E402,F401


def main() -> None:
    """Entry point: run the app, print user errors without a traceback."""
    try:
        app()
    except WorkbenchError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
