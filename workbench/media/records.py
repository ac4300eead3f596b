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

from workbench.core.boxes import clip_xyxyn

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
    """

    path: Path
    source_id: str
    labeled: bool
    split: str | None = None
    group: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    declared_size: tuple[int, int] | None = None
    created_media: bool = False


@dataclass
class BoxTable:
    """Boxes of a batch as flat arrays, built up row by row while parsing.

    Attributes:
        image: ``(M,)`` index of each box's :class:`ImageRecord`.
        label: ``(M,)`` class names.
        xyxyn: ``(M, 4)`` relative corners (not yet clipped).
        file: ``(M,)`` file the box came from; ``line``: ``(M,)`` its 1-based line (0: none).
    """

    image: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    xyxyn: list[Sequence[float]] = field(default_factory=list)
    file: list[str] = field(default_factory=list)
    line: list[int] = field(default_factory=list)

    def add(self, image: int, label: str, xyxyn: Sequence[float], file: str, line: int = 0) -> None:
        """Append one box."""
        self.image.append(image)
        self.label.append(label)
        self.xyxyn.append(xyxyn)
        self.file.append(file)
        self.line.append(line)

    def extend_rows(self, image: list[int], labels: list[str], xyxyn: list[list[float]],
                    file: list[str], line: list[int]) -> None:
        """Append many boxes (aligned lists)."""
        self.image.extend(image)
        self.label.extend(labels)
        self.xyxyn.extend(xyxyn)
        self.file.extend(file)
        self.line.extend(line)

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
    """

    records: list[ImageRecord] = field(default_factory=list)
    boxes: BoxTable = field(default_factory=BoxTable)
    class_names: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    extra_fields: dict[str, str] = field(default_factory=dict)

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
    """

    unlabeled: bool = False
    images_dir: Path | None = None
    workspace_root: Path | None = None


Parser = Callable[[Path, SourceOptions], SourceBatch]


def check_boxes(batch: SourceBatch) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Clip boxes within tolerance (warning), drop empty ones (warning), flag the rest (error).

    Returns:
        ``(M,)`` mask of the boxes to keep and ``(M, 4)`` clipped relative corners.
    """
    _, _, xyxyn = batch.boxes.arrays()
    result = clip_xyxyn(xyxyn)
    rec = batch.boxes
    for i in np.flatnonzero(result.clipped | result.rejected | result.degenerate):
        coords = ", ".join(f"{v:.4f}" for v in xyxyn[i])
        line = rec.line[i] or None
        if result.rejected[i]:
            batch.error("box-outside-image", rec.file[i],
                        f"box [{coords}] (x1, y1, x2, y2) lies outside [0, 1] by more than 1%; "
                        "fix or delete this label", line, rec.image[i])
        elif result.degenerate[i]:
            batch.warn("empty-box", rec.file[i],
                       f"box [{coords}] (x1, y1, x2, y2) has zero width or height; left out",
                       line, rec.image[i])
        else:
            batch.warn("box-clipped", rec.file[i],
                       f"box [{coords}] reached outside the image by less than 1%; clipped to it",
                       line, rec.image[i])
    keep: npt.NDArray[np.bool_] = ~(result.rejected | result.degenerate)
    return keep, result.boxes


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
