"""``workbench ingest``: images and labels into the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    JsonOpt,
    Stage,
    WorkspaceOpt,
    default,
    input_report,
    open_workspace,
    out,
    print_issues,
    print_json,
    spinner,
)
from workbench.ingestion.config import IngestConfig
from workbench.ingestion.sources import format_help


def ingest(
    path: Annotated[Path, typer.Argument(help="File or folder to ingest (see --format).")],
    format: Annotated[str, typer.Option("--format", "-f", help=format_help())],
    source: Annotated[str | None, typer.Option(
        help="Provenance name stored on each sample (default: the path's name).")]
    = default(IngestConfig, "source"),
    unlabeled: Annotated[bool, typer.Option(
        help="Ignore labels: ingest the images into the pool as unlabeled.")]
    = default(IngestConfig, "unlabeled"),
    negatives: Annotated[bool, typer.Option(
        help="The images hold no object of interest: pool them unlabeled, tagged 'negative', "
             "never offered for annotation; `workbench mine --negatives tag:negative` labels "
             "the ones the model fires on as empty.")]
    = default(IngestConfig, "negatives"),
    skip_bad: Annotated[bool, typer.Option(
        help="Ingest the valid images and report the bad ones (default: change nothing).")]
    = default(IngestConfig, "skip_bad"),
    add_classes: Annotated[bool, typer.Option(
        help="Append class names the workspace does not know (default: report them).")]
    = default(IngestConfig, "add_classes"),
    images: Annotated[Path | None, typer.Option(
        help="Image folder for coco/voc/jsonl when images are not beside the annotations.")]
    = default(IngestConfig, "images_dir"),
    max_skipped: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="With --skip-bad: fail (writing nothing) when more than this share of the images "
             "found would be skipped, or all of them.")]
    = default(IngestConfig, "max_skipped_share"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Ingest images and labels; re-ingesting the same files adds nothing."""
    from workbench.ingestion.api import ingest as run_ingest

    ws = open_workspace(workspace)
    config = IngestConfig(path=path, format=format, source=source, unlabeled=unlabeled,
                          negatives=negatives, skip_bad=skip_bad, add_classes=add_classes,
                          images_dir=images, max_skipped_share=max_skipped)
    with input_report(json_), spinner(json_, f"ingesting {path} ({format}) ..."):
        result = run_ingest(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    print_issues(result.issues)
    out.print(
        f"[green]ingested[/] {result.added} new images, {result.boxes_added} boxes from "
        f"{result.images_found} found ({result.already_present} already in the workspace, "
        f"{result.duplicates_in_input} duplicates in the input, {result.skipped_bad} skipped "
        f"as bad) in {result.seconds:.1f}s" + (f"; run {result.run}" if result.run else ""))
    if result.split_origin:
        counts = ", ".join(f"{k} {v}" for k, v in result.source_splits.items()) or "none"
        out.print(f"splits from {result.split_origin}: {counts} (images in no list keep no "
                  "split: run `workbench split`)")
    if result.classes_added:
        out.print(f"classes added to the workspace: {', '.join(result.classes_added)}")


def register(app: typer.Typer) -> None:
    """Add ``ingest`` (data)."""
    app.command(rich_help_panel=Stage.DATA.value)(ingest)
