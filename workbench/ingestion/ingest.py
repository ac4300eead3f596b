"""``workbench ingest``: parse a source, validate everything, then write new samples in bulk.

Nothing is written unless the whole input is valid (or ``skip_bad`` drops the bad images).
Images already in the workspace (same content hash) are skipped, so re-ingesting is a no-op.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.perf import paused_gc
from workbench.errors import InputReportError
from workbench.ingestion.config import IngestConfig
from workbench.ingestion.sources import parse_source
from workbench.media.probe import ImageInfo, probe
from workbench.media.records import Issue, SourceBatch, SourceOptions, check_boxes
from workbench.store import bulk, runs, schema
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

Progress = Callable[[str, int, int], None]


@dataclass
class IngestResult:
    """What an ingest did (or would have done, when it failed validation).

    Attributes:
        run: the ingest run id ("" when nothing was written).
        images_found: images the source listed, readable or not;
            ``images_found == added + already_present + duplicates_in_input + skipped_bad``
            once written.
        added: new samples written; ``boxes_added``: their boxes.
        already_present: images skipped because the workspace has their bytes already.
        duplicates_in_input: images whose bytes appeared earlier in the same input.
        skipped_bad: images with errors, left out by ``--skip-bad`` (also those whose
            annotation could not be read or whose image file is missing).
        classes_added: class names appended to the workspace's class list.
        source_splits: added images per split the source itself states
            (``train|val|test``; images without one are not counted).
        split_origin: the files those splits came from when the source has split lists of
            its own (VOC ``ImageSets/Main``), else "".
        issues: every problem found (errors and warnings).
        seconds: wall time.
    """

    source: str
    format: str
    run: str = ""
    images_found: int = 0
    added: int = 0
    boxes_added: int = 0
    already_present: int = 0
    duplicates_in_input: int = 0
    skipped_bad: int = 0
    classes_added: list[str] = field(default_factory=list)
    source_splits: dict[str, int] = field(default_factory=dict)
    split_origin: str = ""
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues of severity ``warning``."""
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (issues counted by kind, plus all of them)."""
        return {
            "run": self.run, "source": self.source, "format": self.format,
            "images_found": self.images_found, "added": self.added,
            "boxes_added": self.boxes_added, "already_present": self.already_present,
            "duplicates_in_input": self.duplicates_in_input, "skipped_bad": self.skipped_bad,
            "classes_added": self.classes_added, "source_splits": self.source_splits,
            "split_origin": self.split_origin,
            "errors": len(self.errors), "warnings": len(self.warnings),
            "issue_counts": dict(Counter(f"{i.severity}:{i.kind}" for i in self.issues)),
            "issues": [i.to_dict() for i in self.issues], "seconds": round(self.seconds, 3),
        }


class IngestError(InputReportError):
    """The input has errors; nothing was written. ``result`` holds the full report."""

    def __init__(self, result: IngestResult, dropped: int = 0) -> None:
        n = len(result.errors)
        bad_images = len({i.image for i in result.errors if i.image is not None}) + dropped
        super().__init__(
            f"{n} error(s) in the input ({bad_images} image(s) affected); nothing was written. "
            "Fix the files listed above, or re-run with --skip-bad to ingest the valid images "
            "and leave the bad ones out", result)


class TooManySkippedError(InputReportError):
    """``--skip-bad`` would leave out every image, or more than ``max_skipped_share``."""

    def __init__(self, result: IngestResult, max_share: float) -> None:
        found, skipped = result.images_found, result.skipped_bad
        first = "; ".join(f"{i.where()}: {i.message}" for i in result.errors[:3])
        what = ("every image" if skipped == found else
                f"more than --max-skipped {max_share:.0%} of them")
        super().__init__(
            f"--skip-bad would skip {skipped} of {found} image(s) ({skipped / found:.0%}), "
            f"{what}; nothing was written. First problems: {first}. Fix the input (or point "
            "at the right folder), or raise --max-skipped to accept the loss", result)
        self.max_share = max_share


def ingest(ws: Workspace, path: str | Path, format: str, *, progress: Progress | None = None,
           **options: Any) -> IngestResult:
    """Ingest ``path`` in ``format``: :func:`run_ingest` with keyword options.

    Args:
        ws: the workspace.
        path: file or folder, as the format expects.
        format: a name in :data:`workbench.ingestion.sources.SOURCES`.
        progress: called as ``progress(stage, done, total)``.
        **options: the other fields of :class:`IngestConfig` (``source``, ``unlabeled``,
            ``skip_bad``, ``add_classes``, ``images_dir``, ``max_skipped_share``).
    """
    return run_ingest(ws, IngestConfig(path=path, format=format, **options), progress)


def _slug(spec: str) -> str:
    """A source name from a spec such as ``Aurelia aurita,Bathochordaeus`` or ``user/repo``."""
    text = "".join(c if c.isalnum() or c in "-_." else "-" for c in spec.strip().lower())
    return "-".join(p for p in text.split("-") if p)[:60] or "source"


def run_ingest(ws: Workspace, config: IngestConfig,
               progress: Progress | None = None) -> IngestResult:
    """Ingest ``config.path`` in ``config.format`` into the workspace.

    Args:
        ws: the workspace.
        config: what to ingest and how.
        progress: called as ``progress(stage, done, total)``.

    Returns:
        The :class:`IngestResult`.

    Raises:
        IngestError: the input has errors and ``skip_bad`` is off; nothing was written.
        TooManySkippedError: ``skip_bad`` would leave out every image or more than
            ``max_skipped_share`` of them; nothing was written.
        SourceError: the input cannot be read at all (missing path, malformed manifest).
    """
    started_wall = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    spec = config.spec()
    path = Path(spec) if spec is not None else Path(config.path).expanduser().resolve()
    name = config.source or (f"{config.format}-{_slug(spec)}" if spec is not None
                             else path.stem or path.name)
    images_dir = config.images_dir
    options = SourceOptions(unlabeled=config.unlabeled or config.negatives,
                            images_dir=Path(images_dir).resolve() if images_dir else None,
                            workspace_root=ws.root, spec=spec, params=config.source_params(),
                            progress=progress)
    result = IngestResult(source=name, format=config.format)
    with paused_gc():
        batch = parse_source(config.format, path, options)
        result.images_found = len(batch.records) + batch.dropped
        result.split_origin = batch.split_origin
        try:
            _ingest_batch(ws, batch, result, config.skip_bad, config.add_classes, progress,
                          started, config.max_skipped_share,
                          tags=(schema.NEGATIVE_TAG,) if config.negatives else (),
                          params={"path": str(config.path) if spec is not None else str(path),
                                  "format": config.format, "source": name,
                                  **{k: str(v) if isinstance(v, Path) else v
                                     for k, v in config.source_params().items()},
                                  "unlabeled": config.unlabeled, "skip_bad": config.skip_bad,
                                  "negatives": config.negatives,
                                  "max_skipped_share": config.max_skipped_share})
        except BaseException:
            _remove_created_media(batch, keep=set())
            raise
        finally:
            result.seconds = time.perf_counter() - started_wall
    return result


def _ingest_batch(ws: Workspace, batch: SourceBatch, result: IngestResult, skip_bad: bool,
                  add_classes: bool, progress: Progress | None, started: dt.datetime,
                  max_skipped_share: float, params: dict[str, Any],
                  tags: tuple[str, ...] = ()) -> None:
    records = batch.records
    keep_box, xyxyn = check_boxes(batch)
    box_image, box_label, _ = batch.boxes.arrays()
    new_classes = _check_classes(ws, batch, box_label, add_classes)
    box_image, box_label, xyxyn = box_image[keep_box], box_label[keep_box], xyxyn[keep_box]

    if progress:
        progress("reading images", 0, len(records))
    todo = [i for i, r in enumerate(records) if r.info is None]
    known = [r.info for r in records]
    for i, probed in zip(todo, probe([records[i].path for i in todo]), strict=True):
        known[i] = probed
    infos: list[ImageInfo] = [k for k in known if k is not None]
    if progress:
        progress("reading images", len(records), len(records))
    for i, (rec, info) in enumerate(zip(records, infos, strict=True)):
        if info.error:
            batch.error("unreadable-image", rec.path, f"{info.error}; replace or remove the file",
                        image=i)
        elif rec.declared_size and rec.declared_size != (info.width, info.height):
            batch.error("size-mismatch", rec.path,
                        f"the annotations were made for {rec.declared_size[0]}x"
                        f"{rec.declared_size[1]} but the image is {info.width}x{info.height}"
                        + _orientation_hint(rec.declared_size, info), image=i)

    bad = {i.image for i in batch.issues if i.severity == "error" and i.image is not None}
    result.issues = list(batch.issues)
    if result.errors and not skip_bad:
        raise IngestError(result, batch.dropped)
    result.skipped_bad = len(bad) + batch.dropped
    if result.skipped_bad and (result.skipped_bad == result.images_found or
                               result.skipped_bad > max_skipped_share * result.images_found):
        raise TooManySkippedError(result, max_skipped_share)

    keep = _deduplicate(ws, records, infos, bad, result)
    if keep:
        if new_classes:
            result.classes_added = ws.add_classes(new_classes)
        elif not ws.classes and batch.class_names and any(records[i].labeled for i in keep):
            result.classes_added = ws.add_classes(_ordered_classes(batch, box_label))
        run_id = runs.new_run_id("ingest")
        schema.ensure_workspace_schema(ws, batch.extra_fields)
        order = np.argsort(box_image, kind="stable")
        result.boxes_added = bulk.insert_samples(
            ws, [records[i] for i in keep], [infos[i] for i in keep], np.asarray(keep),
            box_image[order], box_label[order], xyxyn[order], source=result.source,
            run_id=run_id, tags=tags)
        result.added = len(keep)
        result.source_splits = dict(sorted(Counter(
            s for i in keep if (s := records[i].split) in ("train", "val", "test")).items()))
        result.run = run_id
        runs.record_run(ws, RunKind.INGEST, run_id, params,
                        {k: v for k, v in result.to_dict().items() if k != "issues"}, started)
    _remove_created_media(batch, keep=set(keep))


def _check_classes(ws: Workspace, batch: SourceBatch, box_label: np.ndarray,
                   add_classes: bool) -> list[str]:
    """Report box labels outside the workspace's class list; return those to add."""
    if not ws.classes or len(box_label) == 0:
        return []
    known = set(ws.classes)
    unknown, first = np.unique(box_label, return_index=True)
    missing = [(str(u), int(f)) for u, f in zip(unknown, first, strict=True) if u not in known]
    if not missing or add_classes:
        return [m for m, _ in missing]
    counts = Counter(box_label.tolist())
    for label, f in missing:
        img = batch.boxes.image[f]
        batch.error(
            "unknown-class", batch.boxes.file[f],
            f"class {label!r} ({counts[label]} boxes) is not in the workspace's class list "
            f"{ws.classes}; rename it in the source, or re-run with --add-classes to append it",
            batch.boxes.line[f] or None, img)
        for j in np.flatnonzero(box_label == label):
            batch.issues.append(Issue("error", "unknown-class-box", batch.boxes.file[j],
                                      f"box of unknown class {label!r}",
                                      batch.boxes.line[j] or None, batch.boxes.image[j]))
    return []


def _ordered_classes(batch: SourceBatch, box_label: np.ndarray) -> list[str]:
    names = list(batch.class_names)
    names += sorted(set(box_label.tolist()) - set(names))
    return names


def _orientation_hint(declared: tuple[int, int], info: ImageInfo) -> str:
    """Why a declared size may be the transposed displayed size (EXIF orientation 5-8)."""
    if info.orientation in (5, 6, 7, 8) and declared == (info.height, info.width):
        return (f" as displayed (its EXIF orientation {info.orientation} turns the stored "
                f"{info.height}x{info.width} pixels by 90°): the annotations were drawn on the "
                "unrotated pixels; re-export them from a tool that applies EXIF orientation")
    return ""


def _deduplicate(ws: Workspace, records: list[Any], infos: list[ImageInfo], bad: set[int],
                 result: IngestResult) -> list[int]:
    """Indices of records to write: good, first of their bytes, not yet in the workspace."""
    first_of: dict[str, int] = {}
    candidates: list[int] = []
    for i, info in enumerate(infos):
        if i in bad:
            continue
        if info.sha256 in first_of:
            result.duplicates_in_input += 1
            result.issues.append(Issue(
                "warning", "duplicate-in-input", str(records[i].path),
                f"same bytes as {records[first_of[info.sha256]].path}; stored once", image=i))
            continue
        first_of[info.sha256] = i
        candidates.append(i)
    present = bulk.existing_hashes(ws, [infos[i].sha256 for i in candidates])
    keep = [i for i in candidates if infos[i].sha256 not in present]
    result.already_present = len(candidates) - len(keep)
    return keep


def _remove_created_media(batch: SourceBatch, keep: set[int]) -> None:
    for i, rec in enumerate(batch.records):
        if rec.created_media and i not in keep:
            rec.path.unlink(missing_ok=True)
