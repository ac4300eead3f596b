"""``workbench annotate import``: validate returned annotations, diff them, write them atomically.

Order of work: open the input safely, find the package manifest, check it belongs to this
workspace, parse the annotations, validate everything (images, sizes, classes by name,
boxes, predictions offered as annotations, image hashes). Only a fully valid input is
written: the previous state of each touched sample is saved first (see
:mod:`workbench.store.versions`), then one bulk write, then pool images get a split. A
failure at any point restores the saved states (the operation journal,
:mod:`workbench.store.journal`, does it at once, or after a kill at the next command), so an
import lands whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from workbench.annotation.bundle import Bundle, ZipLimits, open_bundle
from workbench.annotation.config import UndoConfig
from workbench.annotation.formats import parse_returned
from workbench.annotation.formats.base import PACKAGE_DIRS, PACKAGE_FILES
from workbench.annotation.manifest import MANIFEST, Manifest, load_manifest
from workbench.annotation.results import ImportResult, UndoResult
from workbench.annotation.writing import KIND, write_label_change
from workbench.core.boxes import xywhn_to_xyxyn, xyxyn_to_xywhn
from workbench.core.labeldiff import diff_boxes
from workbench.errors import InputReportError, SourceError, WorkbenchError
from workbench.media.records import check_boxes
from workbench.store import (
    annotating,
    datasets,
    runs,
    schema,
    transaction,
    versions,
)
from workbench.store.bulk import detections_doc
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace


def _check_layout(bundle: Bundle) -> None:
    """A returned package may hold only what export wrote plus ``annotations*``."""
    for name in bundle.names():
        if not (name in PACKAGE_FILES or name.startswith(PACKAGE_DIRS)
                or name.startswith("annotations")):
            raise SourceError(f"{bundle.label}: unexpected entry {name!r} in an annotation "
                              "package; put the annotations in annotations.<ext> or an "
                              "annotations/ folder")


def resolve_inputs(path: Path, package: Path | None,
                   limits: ZipLimits) -> tuple[Bundle, Manifest, Bundle]:
    """The annotation bundle, the manifest it answers, and the bundle holding the manifest."""
    bundle = open_bundle(path, limits)
    names = bundle.names()
    own = load_manifest(bundle) if MANIFEST in names else None
    if own is not None and path.is_file():
        _check_layout(bundle)
    if package is None:
        if own is None:
            raise SourceError(f"{path}: has no {MANIFEST}; pass the package these annotations "
                              "answer with --package PKG.zip")
        return bundle, own, bundle
    pkg_bundle = open_bundle(package, limits)
    if package.is_file() and MANIFEST in pkg_bundle.names():
        _check_layout(pkg_bundle)
    manifest = load_manifest(pkg_bundle)
    if own is not None and own.package_id != manifest.package_id:
        raise SourceError(f"{path} belongs to package {own.package_id}, not to --package "
                          f"{package} ({manifest.package_id})")
    return bundle, manifest, pkg_bundle


def check_workspace(ws: Workspace, manifest: Manifest, where: str) -> None:
    """The package must come from this workspace and use classes it knows."""
    mine = datasets.dataset_id(ws)
    theirs = manifest.workspace.get("dataset_id")
    if theirs != mine:
        raise SourceError(
            f"{where}: package {manifest.package_id} was exported from workspace "
            f"{manifest.workspace.get('root')!r} (dataset {manifest.workspace.get('name')!r}), "
            f"not from this one ({ws.root}); import it with -w pointing at that workspace")
    missing = [c for c in manifest.classes if c not in ws.classes]
    if missing:
        raise SourceError(f"{where}: the package's classes {missing} are no longer in the "
                          "workspace's class list; add them back (workbench.yaml) first")


def _digest(bundle: Bundle, members: list[str], manifest: Manifest) -> str:
    h = hashlib.sha256(manifest.package_id.encode())
    for m in sorted(members):
        h.update(m.encode())
        h.update(bundle.read(m))
    return h.hexdigest()[:24]


def import_annotations(
    ws: Workspace, path: Path, fmt: str = "auto", package: Path | None = None,
    dry_run: bool = False, limits: ZipLimits | None = None, source: str = "file",
) -> ImportResult:
    """Import returned annotations; see the module docstring.

    Args:
        ws: the workspace.
        path: the returned package (zip or folder), or a tool's export (file, folder, zip).
        fmt: ``auto`` | ``coco`` | ``yolo`` | ``voc`` | ``labelstudio`` | ``cvat``.
        package: the package the export answers, when ``path`` is not the package itself.
        dry_run: compute and return the diff, write nothing.
        limits: zip and JSON size caps.
        source: where the annotations came from, for the run record (``file``,
            ``labelstudio``).

    Raises:
        InputReportError: validation failed; nothing was written (``result`` has the report).
        SourceError: the input cannot be read or belongs elsewhere.
    """
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    limits = limits or ZipLimits()
    bundle, manifest, pkg_bundle = resolve_inputs(path, package, limits)
    check_workspace(ws, manifest, str(path))
    returned = parse_returned(bundle, manifest, fmt)
    batch = returned.batch
    result = ImportResult(package_id=manifest.package_id, format=returned.format,
                          dry_run=dry_run)
    keep, xyxyn = check_boxes(batch)
    box_image, box_label, _ = batch.boxes.arrays()
    allowed = set(manifest.classes)
    for name, count in Counter(box_label[keep].tolist()).items():
        if name not in allowed:
            first = int(np.flatnonzero(keep & (box_label == name))[0])
            batch.error("unknown-class", batch.boxes.file[first],
                        f"class {name!r} ({count} boxes) is not in the package's class list "
                        f"({', '.join(manifest.classes)}); rename it in the tool (classes are "
                        "matched by name)", batch.boxes.line[first] or None)
    pkg_index = [r.fields["package_index"] for r in batch.records]
    images = [manifest.images[k] for k in pkg_index]
    sample_ids = annotating.raw_ids([im.sample_id for im in images])
    current = annotating.import_states(ws, sample_ids)
    _check_samples(batch, bundle, pkg_bundle, images, sample_ids, current)
    result.issues = list(batch.issues)
    if any(i.severity == "error" for i in batch.issues):
        result.seconds = time.perf_counter() - t0
        n = sum(i.severity == "error" for i in batch.issues)
        raise InputReportError(f"{path}: {n} problems found; nothing was imported", result)

    # new boxes, per record, as arrays (records are in file order)
    new_image = box_image[keep]
    new_label = box_label[keep]
    new_xyxyn = xyxyn[keep]
    order = np.argsort(new_image, kind="stable")
    new_image, new_label, new_xyxyn = new_image[order], new_label[order], new_xyxyn[order]
    old = annotating.ground_truth_boxes(ws, sample_ids)
    pos = {sid: k for k, sid in enumerate(sample_ids)}
    old_image = np.asarray([pos[sid] for sid in old["ids"]], dtype=np.int64)[
        old["sample_index"]]
    diff = diff_boxes(old_image, old["label"], xywhn_to_xyxyn(old["xywhn"]),
                      new_image, new_label, new_xyxyn, len(sample_ids))
    status_change = np.array([current[s].get(schema.STATUS) != "labeled"
                              or current[s].get(schema.GROUND_TRUTH) is None
                              for s in sample_ids], dtype=bool)
    changed = diff.changed | status_change
    starts = np.searchsorted(new_image, np.arange(len(sample_ids)), side="left")
    ends = np.searchsorted(new_image, np.arange(len(sample_ids)), side="right")
    result.images = int(changed.sum())
    result.boxes = int((ends - starts)[changed].sum())
    result.unchanged = int((~changed).sum())
    result.not_annotated = len(manifest.images) - len(sample_ids)
    result.totals = diff.totals()
    result.per_image = [
        {"sample_id": str(sample_ids[k]), "file_name": images[k].file_name,
         "source_file": Path(current[sample_ids[k]].get("filepath", "")).name,
         "added": int(diff.added[k]), "removed": int(diff.removed[k]),
         "moved": int(diff.moved[k]), "relabeled": int(diff.relabeled[k]),
         "was": current[sample_ids[k]].get(schema.STATUS)}
        for k in np.flatnonzero(changed).tolist()]
    digest = _digest(bundle, returned.files, manifest)
    result.same_as = annotating.earlier_import(ws, digest)
    if dry_run:
        result.seconds = time.perf_counter() - t0
        return result

    idx = np.flatnonzero(changed).tolist()
    params = {"path": str(path), "package": str(package) if package else None,
              "format": returned.format, "source": source}
    xywhn = xyxyn_to_xywhn(new_xyxyn).tolist()
    names = new_label.tolist()
    docs = [detections_doc(names[starts[k]:ends[k]], xywhn[starts[k]:ends[k]]) for k in idx]
    before = [current[sample_ids[k]] for k in idx]

    def outputs(import_id: str, placed: int) -> dict[str, Any]:
        result.import_id = import_id
        result.placed_in_splits = placed
        result.seconds = time.perf_counter() - t0
        out = {k: v for k, v in result.to_dict().items() if k not in ("issues", "per_image")}
        out.update(digest=digest, started=started.isoformat())
        return out

    write_label_change(ws, params, {"package_id": manifest.package_id, "round": manifest.round},
                       before, docs, outputs, t0)
    return result


def _check_samples(batch: Any, bundle: Bundle, pkg_bundle: Bundle, images: list[Any],
                   sample_ids: list[Any], current: dict[Any, dict[str, Any]]) -> None:
    """Samples must exist with the exported bytes; returned image files must be unchanged."""
    own = set(bundle.names())
    names = own | (set(pkg_bundle.names()) if pkg_bundle is not bundle else set())
    for k, (im, sid) in enumerate(zip(images, sample_ids, strict=True)):
        where = f"{bundle.label}: {batch.records[k].source_id}"
        doc = current.get(sid)
        if doc is None:
            batch.error("sample-deleted", where, f"sample {sid} ({im.file_name}) is no longer "
                                                 "in the workspace")
            continue
        if doc.get(schema.CONTENT_HASH) and doc[schema.CONTENT_HASH] != im.sha256:
            batch.error("image-changed", where, f"sample {sid} now holds other image bytes "
                                                f"than when {im.file_name} was exported")
        member = f"images/{im.file_name}"
        if member in names:
            source = bundle if member in own else pkg_bundle
            if hashlib.sha256(source.read(member)).hexdigest() != im.sha256:
                batch.error("image-modified", where,
                            f"{member} differs from the exported image (sha256 mismatch); "
                            "annotations made on a changed image cannot be trusted")


def undo_import(ws: Workspace, import_id: str) -> dict[str, Any]:
    """Restore what import ``import_id`` replaced; the JSON of :func:`undo`."""
    return undo(ws, UndoConfig(import_id)).to_dict()


def undo(ws: Workspace, cfg: UndoConfig) -> UndoResult:
    """Restore the ground truth, status, split and tags an import replaced.

    Raises:
        WorkbenchError: unknown or already undone import, or a later change touched the
            same samples (undo that first).
    """
    started = dt.datetime.now(dt.UTC)
    import_id = cfg.import_id
    run = runs.get_run(ws, import_id, KIND)
    if run is None:
        known = [r["_id"] for r in runs.list_runs(ws, KIND)][-5:]
        raise WorkbenchError(f"no import {import_id!r} in this workspace; recent imports: "
                             f"{', '.join(known) or 'none'} (see `workbench runs`)")
    if run.get("undone_by"):
        raise WorkbenchError(f"import {import_id} was already undone by {run['undone_by']}")
    if run.get("status", "completed") != "completed":
        raise WorkbenchError(f"import {import_id} did not complete (status {run['status']}): "
                             "it changed nothing, so there is nothing to undo")
    states = versions.saved(ws, import_id)
    undo_id = runs.new_run_id("undo")

    def restore() -> int:
        restored = versions.restore(ws, states)
        runs.record_run(ws, RunKind.ANNOTATE_UNDO, undo_id, {"import_id": import_id},
                        {"restored": restored}, started)
        runs.update_run(ws, import_id, set_={"undone_by": undo_id})
        return restored

    restored = transaction.atomic(ws, restore, samples=len(states))
    return UndoResult(undo_id=undo_id, import_id=import_id, restored=restored)
