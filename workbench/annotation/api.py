"""The annotation capability's public surface: packages, imports, undo, push / pull.

One function per verb, each taking the workspace and its config and returning a result whose
``to_dict()`` is the command's JSON. The implementation modules are imported when a verb
runs, so this module stays light at import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.annotation.backends import BACKENDS, Backend
from workbench.annotation.cocojson import ImageBoxes, coco_document
from workbench.annotation.config import (
    ImportConfig,
    PackageConfig,
    PullConfig,
    PushConfig,
    UndoConfig,
)
from workbench.annotation.formats import AUTO, FORMATS, format_choices
from workbench.annotation.manifest import Manifest, PackageImage
from workbench.annotation.results import ImportResult, PackageResult, PushResult, UndoResult
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: ``(what, done, total)`` progress of a package being written.
Progress = Callable[[str, int, int], None]


@lock.writes
def export_package(ws: Workspace, cfg: PackageConfig, progress: Progress | None = None
                   ) -> PackageResult:
    """``annotate export``: write a self-contained annotation package (see
    :mod:`workbench.annotation.package`); its images become ``in_annotation``."""
    from workbench.annotation import package

    return PackageResult(**package.export_package(ws, cfg, progress))


@lock.writes
def import_annotations(ws: Workspace, cfg: ImportConfig, source: str = "file") -> ImportResult:
    """``annotate import``: validate returned annotations, then write them atomically.

    Args:
        ws: the workspace.
        cfg: what to import.
        source: where the annotations came from, for the run record (``file``, ``oracle``).

    Raises:
        InputReportError: validation failed; nothing was written (``result`` has the report).
        SourceError: the input cannot be read or belongs elsewhere.
    """
    from workbench.annotation import importer

    return importer.import_annotations(ws, cfg.path, cfg.format, cfg.package, cfg.dry_run,
                                       cfg.limits, source=source)


@lock.writes
def undo_import(ws: Workspace, cfg: UndoConfig) -> UndoResult:
    """``annotate undo``: restore the ground truth, status, split and tags an import replaced.

    Raises:
        WorkbenchError: unknown or already undone import, or a later change touched the
            same samples (undo that first).
    """
    from workbench.annotation import importer

    return importer.undo(ws, cfg)


@lock.writes
def push(ws: Workspace, cfg: PushConfig) -> PushResult:
    """``annotate push``: send the round's images to the annotation server as tasks."""
    return BACKENDS.get(cfg.backend).push(ws, cfg)


@lock.writes
def pull(ws: Workspace, cfg: PullConfig) -> ImportResult:
    """``annotate pull``: import what annotators submitted (validated, undoable)."""
    return BACKENDS.get(cfg.backend).pull(ws, cfg)


@lock.writes
def label_negatives(ws: Workspace, sample_ids: list[Any], reason: dict[str, Any],
                    split_to: str | None = "train") -> dict[str, Any]:
    """Empty ground truth and ``status=labeled`` on images, as one change that ``annotate
    undo`` restores (see :func:`workbench.annotation.negatives.label_negatives`)."""
    from workbench.annotation import negatives

    return negatives.label_negatives(ws, sample_ids, reason, split_to)


def read_package_manifest(path: Path) -> Manifest:
    """The manifest of a package this workspace wrote (a zip, or its unzipped folder).

    Raises:
        SourceError: no manifest, or an invalid one.
    """
    import zipfile

    from workbench.annotation.bundle import open_bundle
    from workbench.annotation.manifest import MANIFEST, load_manifest

    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if MANIFEST in zf.namelist():
                return Manifest.from_dict(json.loads(zf.read(MANIFEST)), str(path))
    return load_manifest(open_bundle(path))


__all__ = ["AUTO", "BACKENDS", "FORMATS", "Backend", "ImageBoxes", "ImportConfig",
           "ImportResult", "Manifest", "PackageConfig", "PackageImage", "PackageResult",
           "PullConfig", "PushConfig", "PushResult", "UndoConfig", "UndoResult",
           "coco_document", "export_package", "format_choices", "import_annotations",
           "label_negatives", "pull",
           "push", "read_package_manifest", "undo_import"]
