"""``workbench annotate``: packages out, validated labels back in, undo, Label Studio.

Added to the CLI by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.annotation.backends import BACKENDS
from workbench.annotation.config import (
    ImportConfig,
    PackageConfig,
    PullConfig,
    PushConfig,
    UndoConfig,
)
from workbench.annotation.formats import format_choices
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
    spinner,
)

annotate_app = typer.Typer(
    help="Annotation round-trips: export a package, import what annotators return (validated, "
         "undoable), or push to / pull from a Label Studio server.",
    no_args_is_help=True)

RoundOpt = Annotated[str | None, typer.Option(
    "--round", help="Selection round to send (default: the latest round).")]
ViewOpt = Annotated[str | None, typer.Option(
    help="A view instead of a round: pool, split:val, status:unlabeled, tag:NAME, ...")]
PreOpt = Annotated[str | None, typer.Option(
    "--pre-annotations", help="Prediction run whose boxes ship as pre-annotations (always "
                              "marked as predictions, never as ground truth).")]
PreConfOpt = Annotated[float, typer.Option(
    "--pre-annotation-conf", help="Ship only pre-annotation boxes at least this confident.")]
BackendOpt = Annotated[str, typer.Option(
    help=f"Annotation server: {', '.join(BACKENDS.names())}.")]
UrlOpt = Annotated[str | None, typer.Option(
    help="Label Studio URL (default: $LABEL_STUDIO_URL or http://127.0.0.1:8080). The token "
         "comes from $LABEL_STUDIO_API_KEY.")]
ProjectOpt = Annotated[str | None, typer.Option(
    help="Label Studio project title (default: the dataset name).")]
MaxBytesOpt = Annotated[int, typer.Option(
    help="Refuse zips that expand to more bytes than this (zip-bomb guard).")]
MaxEntriesOpt = Annotated[int, typer.Option(help="Refuse zips with more entries than this.")]


@annotate_app.command("export")
def export_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="The package zip to write.")],
    round_: RoundOpt = None,
    view: ViewOpt = None,
    pre_annotations: PreOpt = None,
    pre_annotation_conf: PreConfOpt = default(PackageConfig, "pre_annotation_conf"),
    guidelines: Annotated[Path | None, typer.Option(
        help="Markdown with your own labeling rules, appended to guidelines.md.")] = None,
    thumbnails: Annotated[bool, typer.Option(help="Write thumbnails/ previews.")]
    = default(PackageConfig, "thumbnails"),
    image_prefix: Annotated[str, typer.Option(
        help="Image URL prefix in labelstudio_tasks.json (default: Label Studio local files "
             "with the unzipped package as document root).")]
    = default(PackageConfig, "image_prefix"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Write a self-contained annotation package (images, manifest, pre-annotations, guidelines).

    The exported images become status=in_annotation. Annotators add annotations.coco.json
    (or any supported export) and send it back to `workbench annotate import`.
    """
    from rich.progress import Progress

    from workbench.annotation.api import export_package

    ws = open_workspace(workspace)
    cfg = PackageConfig(out=out_path, round=round_, view=view, pre_annotations=pre_annotations,
                       pre_annotation_conf=pre_annotation_conf, guidelines=guidelines,
                       thumbnails=thumbnails, image_prefix=image_prefix)
    with Progress(console=err, disable=json_) as bar:
        task = bar.add_task("packaging", total=None)
        result = export_package(ws, cfg, progress=lambda what, done, total: bar.update(
            task, description=what, completed=done, total=total))
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]wrote[/] {result.path}: {result.images} images, "
              f"{result.boxes_pre_annotated} pre-annotated boxes, "
              f"{result.size_bytes / 1e6:.1f} MB (package {result.package_id})")
    out.print("next: annotate, add annotations.coco.json (or the tool's export) to the package, "
              f"then: workbench annotate import {result.path} -w {workspace}")


@annotate_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(
        help="The returned package (zip or folder), or a tool's export: COCO JSON, YOLO "
             "folder/zip, VOC folder, Label Studio JSON, CVAT XML.")],
    format_: Annotated[str, typer.Option(
        "--format", help=" | ".join(format_choices()))] = default(ImportConfig, "format"),
    package: Annotated[Path | None, typer.Option(
        help="The package the export answers (when PATH is not the package itself).")] = None,
    dry_run: Annotated[bool, typer.Option(
        help="Show what would change per image; write nothing.")]
    = default(ImportConfig, "dry_run"),
    max_zip_bytes: MaxBytesOpt = default(ImportConfig, "max_zip_bytes"),
    max_zip_entries: MaxEntriesOpt = default(ImportConfig, "max_zip_entries"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Validate returned annotations against their package, then write them atomically.

    Classes are matched by name; images by the package manifest (and sha256). Nothing is
    written unless everything is valid. Each import can be undone with `annotate undo`.
    """
    from workbench.annotation.api import import_annotations

    ws = open_workspace(workspace)
    with input_report(json_):
        result = import_annotations(ws, ImportConfig(
            path=path, format=format_, package=package, dry_run=dry_run,
            max_zip_bytes=max_zip_bytes, max_zip_entries=max_zip_entries))
    _report_import(result, json_, workspace)


def _report_import(result: Any, json_: bool, workspace: Path) -> None:
    if json_:
        print_json(result.to_dict())
        return
    print_issues(result.issues)
    totals = result.totals
    if result.per_image and (result.dry_run or len(result.per_image) <= 20):
        table = Table(title="changes per image" + (" (dry run)" if result.dry_run else ""))
        for col in ("image", "added", "removed", "moved", "relabeled", "was"):
            table.add_column(col, justify="left" if col in ("image", "was") else "right",
                             overflow="fold")
        for row in result.per_image[:50]:
            table.add_row(row["source_file"] or row["file_name"],
                          *(str(row[k]) for k in ("added", "removed", "moved", "relabeled")),
                          row["was"])
        out.print(table)
        if len(result.per_image) > 50:
            out.print(f"... and {len(result.per_image) - 50} more images (--json lists all)")
    verb = "would change" if result.dry_run else "imported"
    out.print(f"[green]{verb}[/] {result.images} images ({result.boxes} boxes; "
              f"+{totals.get('added', 0)} -{totals.get('removed', 0)} "
              f"~{totals.get('moved', 0)} moved, {totals.get('relabeled', 0)} relabeled), "
              f"{result.unchanged} unchanged, {result.not_annotated} not annotated "
              f"[{result.format}]")
    if result.import_id and result.images == 0:
        out.print("nothing changed" + (f" (same as {result.same_as})" if result.same_as else ""))
    elif result.import_id:
        out.print(f"import {result.import_id}; undo with: workbench annotate undo "
                  f"{result.import_id} -w {workspace}")


@annotate_app.command("undo")
def undo_cmd(
    import_id: Annotated[str, typer.Argument(help="The import to undo (see `workbench runs`).")],
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Restore the ground truth, status and split that an import replaced."""
    from workbench.annotation.api import undo_import

    result = undo_import(open_workspace(workspace), UndoConfig(import_id))
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]restored[/] {result.restored} samples to their state before "
              f"{import_id} ({result.undo_id})")


@annotate_app.command("push")
def push_cmd(
    backend: BackendOpt = default(PushConfig, "backend"),
    url: UrlOpt = None,
    project: ProjectOpt = None,
    round_: RoundOpt = None,
    view: ViewOpt = None,
    pre_annotations: PreOpt = None,
    pre_annotation_conf: PreConfOpt = default(PushConfig, "pre_annotation_conf"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Create or update a Label Studio project and upload the round's images as tasks."""
    from workbench.annotation.api import push

    cfg = PushConfig(project=project, round=round_, view=view, pre_annotations=pre_annotations,
                     pre_annotation_conf=pre_annotation_conf, url=url, backend=backend)
    ws = open_workspace(workspace)
    with spinner(json_, f"pushing to {BACKENDS.meta(backend)['label']}"):
        result = push(ws, cfg)
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"[green]pushed[/] {result.tasks_created} tasks to project "
              f"{result.project!r} ({result.already_in_project} already there): "
              f"{result.project_url}")
    out.print(f"when annotators are done: workbench annotate pull -w {workspace}")


@annotate_app.command("pull")
def pull_cmd(
    backend: BackendOpt = default(PullConfig, "backend"),
    url: UrlOpt = None,
    project: ProjectOpt = None,
    dry_run: Annotated[bool, typer.Option(help="Show the diff; write nothing.")]
    = default(PullConfig, "dry_run"),
    workspace: WorkspaceOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Fetch submitted annotations from Label Studio and import them (validated, undoable)."""
    from workbench.annotation.api import pull

    cfg = PullConfig(project=project, url=url, dry_run=dry_run, backend=backend)
    ws = open_workspace(workspace)
    with input_report(json_):
        result = pull(ws, cfg)
    _report_import(result, json_, workspace)


def register(app: typer.Typer) -> None:
    """Add the ``annotate`` group (annotation)."""
    app.add_typer(annotate_app, name="annotate", rich_help_panel=Stage.ANNOTATION.value)
