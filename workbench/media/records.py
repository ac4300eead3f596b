"""What every source parser returns, and the checks they share.

A parser turns files into a :class:`SourceBatch`: one :class:`ImageRecord` per image and
the boxes of all images as flat arrays. It never touches the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from workbench.core.boxes import (
    BOX_CLIPPED,
    BOX_NEGATIVE_SIZE,
    BOX_NON_FINITE,
    BOX_OUTSIDE,
    BOX_ZERO_AREA,
    CLIP_TOLERANCE,
    check_geometry,
)
from workbench.media.probe import ImageInfo

Severity = Literal["error", "warning"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Issue:
    """One problem found in the input.

    Attributes:
        severity: ``error`` blocks the ingest (or skips the image with --skip-bad);
            ``warning`` is reported and the data is kept (maybe clipped).
        kind: a short machine-readable tag, e.g. ``bad-field-count``.
        file: the file the problem is in.
        line: 1-based line number, when the file is text.
        message: what is wrong and how to fix it.
        image: index of the affected :class:`ImageRecord`, if any.
    """

    severity: Severity
    kind: str
    file: str
    message: str
    line: int | None = None
    image: int | None = None

    def where(self) -> str:
        """``file:line`` or ``file``."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "severity": self.severity,
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }


@dataclass
class ImageRecord:
    """One image a source found.

    Attributes:
        path: the image file (absolute).
        source_id: the image's id within its source (usually its relative path).
        labeled: whether the source states the image's labels (an empty list is a negative).
        split: ``train|val|test`` when the source says so, ``pool`` for unlabeled, else None.
        group: capture group for leak-free splits, if known.
        fields: extra sample fields (e.g. depth statistics).
        declared_size: ``(width, height)`` the annotations were made for (COCO, VOC);
            ingest checks it against the image.
        created_media: the parser wrote ``path`` itself (npz frames); removed if ingest fails.
        info: what the parser learned probing the bytes it wrote to ``path``
            (:func:`~workbench.media.probe.probe_bytes`); ingest then does not read the file
            again. None: ingest probes the file.
    """

    path: Path
    source_id: str
    labeled: bool
    split: str | None = None
    group: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    declared_size: tuple[int, int] | None = None
    created_media: bool = False
    info: ImageInfo | None = None


@dataclass
class BoxTable:
    """Boxes of a batch as flat arrays, built up row by row while parsing.

    Attributes:
        image: ``(M,)`` index of each box's :class:`ImageRecord`.
        label: ``(M,)`` class names.
        xyxyn: ``(M, 4)`` relative corners (not yet clipped).
        file: ``(M,)`` file the box came from; ``line``: ``(M,)`` its 1-based line (0: none).
        wh: ``(M, 2)`` relative width and height as the file wrote them (formats that write
            sizes), else ``x2 - x1, y2 - y1``; the geometry rule checks their sign.
    """

    image: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    xyxyn: list[Sequence[float]] = field(default_factory=list)
    file: list[str] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    wh: list[Sequence[float]] = field(default_factory=list)

    def add(self, image: int, label: str, xyxyn: Sequence[float], file: str, line: int = 0,
            wh: Sequence[float] | None = None) -> None:
        """Append one box (``wh``: its size as written, when the format writes one)."""
        self.image.append(image)
        self.label.append(label)
        self.xyxyn.append(xyxyn)
        self.file.append(file)
        self.line.append(line)
        self.wh.append(wh if wh is not None else (xyxyn[2] - xyxyn[0], xyxyn[3] - xyxyn[1]))

    def extend_rows(self, image: list[int], labels: list[str], xyxyn: list[list[float]],
                    file: list[str], line: list[int],
                    wh: list[list[float]] | None = None) -> None:
        """Append many boxes (aligned lists; ``wh`` as in :meth:`add`)."""
        self.image.extend(image)
        self.label.extend(labels)
        self.xyxyn.extend(xyxyn)
        self.file.extend(file)
        self.line.extend(line)
        self.wh.extend(wh if wh is not None else
                       [(b[2] - b[0], b[3] - b[1]) for b in xyxyn])

    def __len__(self) -> int:
        return len(self.image)

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_], npt.NDArray[np.float64]]:
        """``(image (M,), label (M,), xyxyn (M, 4))`` as numpy arrays."""
        return (
            np.asarray(self.image, dtype=np.int64),
            np.asarray(self.label, dtype=str),
            np.asarray(self.xyxyn, dtype=np.float64).reshape(-1, 4),
        )


@dataclass
class SourceBatch:
    """Everything a parser found.

    Attributes:
        records: the images.
        boxes: their boxes.
        class_names: the source's own class list, in its order (may be empty).
        issues: problems found while parsing.
        extra_fields: extra sample fields the records carry, name -> kind
            (see :func:`workbench.store.schema.ensure_schema`).
        dropped: images the source lists that could not become a record (unreadable
            annotation, missing image file ...); each has an error (see :meth:`drop`). Ingest
            counts them as found and, with ``--skip-bad``, as skipped.
        split_origin: where the records' ``split`` values come from, when the source states
            them in files of its own (e.g. ``ImageSets/Main/{train,val,test}.txt``); for the
            ingest report.
    """

    records: list[ImageRecord] = field(default_factory=list)
    boxes: BoxTable = field(default_factory=BoxTable)
    class_names: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    extra_fields: dict[str, str] = field(default_factory=dict)
    dropped: int = 0
    split_origin: str = ""

    def drop(self, kind: str, file: Path | str, message: str, line: int | None = None) -> None:
        """Record an error for an image the source lists but that cannot become a record."""
        self.dropped += 1
        self.issues.append(Issue("error", kind, str(file), message, line))

    def error(self, kind: str, file: Path | str, message: str, line: int | None = None,
              image: int | None = None) -> None:
        """Record an error."""
        self.issues.append(Issue("error", kind, str(file), message, line, image))

    def warn(self, kind: str, file: Path | str, message: str, line: int | None = None,
             image: int | None = None) -> None:
        """Record a warning."""
        self.issues.append(Issue("warning", kind, str(file), message, line, image))


@dataclass(frozen=True)
class SourceOptions:
    """Options every parser receives.

    Attributes:
        unlabeled: ignore any labels and ingest the images into the pool.
        images_dir: where images are, for formats whose annotations live elsewhere.
        workspace_root: where content-addressed media (e.g. npz frames) is written.
        spec: for a format that reads from elsewhere, what followed ``FORMAT:`` on the
            command line (concepts, a dataset id); None otherwise.
        params: the format's own options that were given (``IngestConfig.source_params``:
            ``limit``, ``every``, ``split`` ...), by name.
        progress: ``progress(stage, done, total)`` for parsers with long work of their own
            (downloads, decoding video); None: nobody is watching.
    """

    unlabeled: bool = False
    images_dir: Path | None = None
    workspace_root: Path | None = None
    spec: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str, int, int], None] | None = None


Parser = Callable[[Path, SourceOptions], SourceBatch]


#: verdict -> (severity, issue kind) of :func:`check_boxes`.
GEOMETRY_KINDS: dict[int, tuple[Severity, str]] = {
    BOX_CLIPPED: ("warning", "box-clipped"),
    BOX_ZERO_AREA: ("warning", "empty-box"),
    BOX_NON_FINITE: ("error", "box-not-finite"),
    BOX_NEGATIVE_SIZE: ("error", "box-negative-size"),
    BOX_OUTSIDE: ("error", "box-outside-image"),
}


def geometry_message(verdict: int, xyxyn: npt.ArrayLike, wh: npt.ArrayLike) -> str:
    """What is wrong with one box, naming its values (the verdicts of ``check_geometry``).

    Args:
        verdict: a ``BOX_*`` code other than ``BOX_OK``.
        xyxyn: the box's relative corners ``[x1, y1, x2, y2]`` (before clipping).
        wh: its relative width and height as written.
    """
    coords = ", ".join(f"{v:.4f}" for v in np.asarray(xyxyn, dtype=np.float64).reshape(4))
    wh = np.asarray(wh, dtype=np.float64).reshape(2)
    pct = f"{CLIP_TOLERANCE:.0%}"
    if verdict == BOX_NON_FINITE:
        return (f"box [{coords}] (x1, y1, x2, y2), width {wh[0]:.4g}, height {wh[1]:.4g} has "
                "a value that is not a finite number; fix or delete this label")
    if verdict == BOX_NEGATIVE_SIZE:
        return (f"box [{coords}] (x1, y1, x2, y2) has a negative width or height (width "
                f"{wh[0]:.4g}, height {wh[1]:.4g}); fix or delete this label")
    if verdict == BOX_OUTSIDE:
        return (f"box [{coords}] (x1, y1, x2, y2) lies outside the image (outside [0, 1] by "
                f"more than {pct}); fix or delete this label")
    if verdict == BOX_ZERO_AREA:
        return f"box [{coords}] (x1, y1, x2, y2) has zero width or height; left out"
    return f"box [{coords}] reached outside the image by less than {pct}; clipped to it"


def check_boxes(batch: SourceBatch) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Apply the one geometry rule (:func:`~workbench.core.boxes.check_geometry`) to a batch.

    Boxes within the tolerance are clipped (warning), empty ones dropped (warning); boxes
    that are not finite, have a negative size or lie outside the image are errors. Each
    issue names the file, the line or entry, and the box's values.

    Returns:
        ``(M,)`` mask of the boxes to keep and ``(M, 4)`` clipped relative corners.
    """
    _, _, xyxyn = batch.boxes.arrays()
    rec = batch.boxes
    wh = np.asarray(rec.wh, dtype=np.float64).reshape(-1, 2)
    result = check_geometry(xyxyn, wh)
    for i in np.flatnonzero(result.verdict).tolist():
        v = int(result.verdict[i])
        severity, kind = GEOMETRY_KINDS[v]
        issue = Issue(severity, kind, str(rec.file[i]), geometry_message(v, xyxyn[i], wh[i]),
                      rec.line[i] or None, rec.image[i])
        batch.issues.append(issue)
    return result.keep, result.boxes


def list_images(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder``, sorted (hidden files and folders skipped)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        found.extend(os.path.join(dirpath, f) for f in filenames
                     if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES)
    return [Path(p) for p in sorted(found)]


def normalize_split(name: str) -> str | None:
    """Map folder names to splits: ``valid``/``validation`` -> ``val`` etc."""
    n = name.lower()
    if n in ("train", "training"):
        return "train"
    if n in ("val", "valid", "validation"):
        return "val"
    if n in ("test", "testing"):
        return "test"
    return None


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for naming an offending value in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
