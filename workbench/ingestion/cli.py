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
    err,
    input_report,
    open_workspace,
    out,
    print_issues,
    print_json,
    progress_bar,
    spinner,
)
from workbench.ingestion.config import IngestConfig
from workbench.ingestion.export_config import EXPORT_FORMATS, ExportDatasetConfig
from workbench.ingestion.sources import format_help


def ingest(
    path: Annotated[str, typer.Argument(
        help="File or folder to ingest (see --format), or fathomnet:CONCEPT[,CONCEPT...] / "
             "hf:REPO_OR_PATH for the sources read from elsewhere.")],
    format: Annotated[str, typer.Option(
        "--format", "-f", help=f"{format_help()}. Optional with a fathomnet: or hf: prefix.")]
    = default(IngestConfig, "format"),
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
    limit: Annotated[int | None, typer.Option(
        help="fathomnet, hf: at most this many images.")] = default(IngestConfig, "limit"),
    class_map: Annotated[Path | None, typer.Option(
        help="fathomnet, hf: YAML/JSON {source name: workspace class} merging the source's "
             "names into your classes.")] = default(IngestConfig, "class_map"),
    cache: Annotated[Path | None, typer.Option(
        help="fathomnet: where downloaded images are kept (content-addressed, reused by later "
             "ingests; default: the workspace's media folder).")] = default(IngestConfig, "cache"),
    taxa_descendants: Annotated[bool, typer.Option(
        help="fathomnet: also the concepts' descendants in the taxonomy.")]
    = default(IngestConfig, "taxa_descendants"),
    bbox_only: Annotated[bool, typer.Option(
        help="fathomnet: only images with a box of the concepts.")]
    = default(IngestConfig, "bbox_only"),
    split: Annotated[str | None, typer.Option(
        help="hf: the dataset split to read (default train).")] = default(IngestConfig, "split"),
    revision: Annotated[str | None, typer.Option(
        help="hf: the dataset revision (branch, tag or commit) on the Hub.")]
    = default(IngestConfig, "revision"),
    image_column: Annotated[str | None, typer.Option(
        help="hf: the image column (default: detected).")]
    = default(IngestConfig, "image_column"),
    objects_column: Annotated[str | None, typer.Option(
        help="hf: the boxes column (default: detected, e.g. objects).")]
    = default(IngestConfig, "objects_column"),
    bbox_format: Annotated[str | None, typer.Option(
        help="hf: coco (x, y, w, h pixels, default) | voc (x1, y1, x2, y2 pixels) | yolo "
             "(cx, cy, w, h relative) | albumentations (x1, y1, x2, y2 relative).")]
    = default(IngestConfig, "bbox_format"),
    every: Annotated[int | None, typer.Option(
        help="video: keep every N-th frame.")] = default(IngestConfig, "every"),
    fps: Annotated[float | None, typer.Option(
        help="video: keep this many frames per second.")] = default(IngestConfig, "fps"),
    dedup_threshold: Annotated[int | None, typer.Option(
        help="video: drop a frame within this many bits (of a 64-bit perceptual hash) of the "
             "last kept one; 0 keeps every sampled frame.")]
    = default(IngestConfig, "dedup_threshold"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Ingest images and labels; re-ingesting the same files adds nothing."""
    from workbench.ingestion.api import ingest as run_ingest

    ws = open_workspace(workspace)
    config = IngestConfig(path=path, format=format, source=source, unlabeled=unlabeled,
                          negatives=negatives, skip_bad=skip_bad, add_classes=add_classes,
                          images_dir=images, max_skipped_share=max_skipped, limit=limit,
                          class_map=class_map, cache=cache, taxa_descendants=taxa_descendants,
                          bbox_only=bbox_only, split=split, revision=revision,
                          image_column=image_column, objects_column=objects_column,
                          bbox_format=bbox_format, every=every, fps=fps,
                          dedup_threshold=dedup_threshold)
    with input_report(json_), progress_bar(json_, f"ingesting {path}") as update:
        result = run_ingest(ws, config,
                            progress=lambda stage, done, total: update(done, total, stage))
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


def export_dataset(
    view: Annotated[str, typer.Argument(
        help="The view whose labeled images to write (split:train, source:NAME, all ...).")],
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="The folder to create.")],
    format: Annotated[str, typer.Option(
        "--format", "-f", help=f"{' | '.join(EXPORT_FORMATS)}: yolo writes data.yaml, images/ "
        "and labels/ per split; coco images/ and annotations.json; hf a Hugging Face "
        "save_to_disk DatasetDict (train/validation/test, objects {bbox, category}).")]
    = default(ExportDatasetConfig, "format"),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing, non-empty folder.")]
    = default(ExportDatasetConfig, "overwrite"),
    link: Annotated[bool, typer.Option(
        help="Hard-link the images instead of copying them (yolo, coco; same file system).")]
    = default(ExportDatasetConfig, "link"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Write a view's labeled images and boxes as a YOLO, COCO or Hugging Face dataset
    (ingesting it again gives the same boxes)."""
    from workbench.ingestion.api import export_dataset as run_export

    ws = open_workspace(workspace)
    config = ExportDatasetConfig(view=view, out=folder, format=format, overwrite=overwrite,
                                 link=link)
    with spinner(json_, f"exporting {view} as {format} ..."):
        result = run_export(ws, config)
    if json_:
        print_json(result.to_dict())
        return
    for warning in result.warnings:
        err.print(f"[yellow]warning[/] {warning}", highlight=False)
    splits = ", ".join(f"{k} {v}" for k, v in result.splits.items())
    out.print(f"[green]exported[/] {result.images} images, {result.boxes} boxes "
                      f"({splits}) as {result.format} to {result.out} in {result.seconds:.1f}s")


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``export-dataset`` (data)."""
    app.command(rich_help_panel=Stage.DATA.value)(ingest)
    app.command("export-dataset", rich_help_panel=Stage.DATA.value)(export_dataset)
