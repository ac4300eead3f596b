"""The annotation capability's App operators: package export / import / undo and Label Studio
push / pull (``workbench annotate ...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.annotation.api import (
    AUTO,
    BACKENDS,
    FORMATS,
    ImportConfig,
    PackageConfig,
    PullConfig,
    PushConfig,
    UndoConfig,
    export_package,
    import_annotations,
    pull,
    push,
    undo_import,
)
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_ROUNDS = Choices(source="rounds")
_VIEWS = Choices(source="views", other=True)
_PREDICTIONS = Choices(source="prediction_runs")
_BACKENDS = Choices(static=tuple(BACKENDS.names()))


def _export(ws: Workspace, cfg: PackageConfig, report: Report) -> Any:
    return export_package(ws, cfg, progress=lambda stage, done, total:
                          report(done / max(total, 1), stage))


def register(ops: Registry[OperatorSpec]) -> None:
    """Add the annotation operators."""
    ops.register("wb_annotate_export", OperatorSpec(
        "wb_annotate_export", "Workbench: export an annotation package",
        "Write a self-contained annotation package (zip: images, guidelines, pre-annotations, "
        "Label Studio tasks) for a round or a view (`workbench annotate export`).",
        PackageConfig, _export,
        choices={"round": _ROUNDS, "view": _VIEWS, "pre_annotations": _PREDICTIONS},
        hidden=("guidelines", "image_prefix")))
    ops.register("wb_annotate_import", OperatorSpec(
        "wb_annotate_import", "Workbench: import annotations",
        "Validate returned labels (any COCO / YOLO / VOC / CVAT / Label Studio export) against "
        "their package and write them all or nothing; dry run shows the changes "
        "(`workbench annotate import`). Undoable.",
        ImportConfig, plain(import_annotations),
        choices={"format": Choices(static=(AUTO, *FORMATS.names()))},
        hidden=("max_zip_bytes", "max_zip_entries")))
    ops.register("wb_annotate_undo", OperatorSpec(
        "wb_annotate_undo", "Workbench: undo an import",
        "Restore the labels and status an annotation import changed (`workbench annotate "
        "undo`).", UndoConfig, plain(undo_import),
        choices={"import_id": Choices(source="imports")}))
    ops.register("wb_ls_push", OperatorSpec(
        "wb_ls_push", "Workbench: push to Label Studio",
        "Create or extend a Label Studio project with a round's images and pre-annotations "
        "(`workbench annotate push`).", PushConfig, plain(push),
        choices={"round": _ROUNDS, "view": _VIEWS, "pre_annotations": _PREDICTIONS,
                 "backend": _BACKENDS}))
    ops.register("wb_ls_pull", OperatorSpec(
        "wb_ls_pull", "Workbench: pull from Label Studio",
        "Validate and import the finished Label Studio annotations (`workbench annotate "
        "pull`); dry run shows the changes.", PullConfig, plain(pull),
        choices={"backend": _BACKENDS}))
