"""What every returned-annotation parser produces, and the name/size/box bookkeeping they share.

A parser reads a :class:`~workbench.annotation.bundle.Bundle` and fills a
:class:`~workbench.media.records.SourceBatch` through a :class:`Collector`: one record per
annotated package image (``fields["package_index"]``), boxes as relative corners in the
package image's own size. Images the file does not mention stay unannotated; an image it
mentions with no box is a labeled negative.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.annotation.bundle import Bundle, read_text
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError
from workbench.media.records import ImageRecord, SourceBatch

PACKAGE_FILES = ("manifest.json", "predictions.coco.json", "labelstudio_tasks.json",
                 "guidelines.md")
PACKAGE_DIRS = ("images/", "thumbnails/", "guidelines/")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def annotation_files(bundle: Bundle) -> list[str]:
    """The bundle's files that are not part of what ``annotate export`` wrote."""
    return [n for n in bundle.names()
            if n not in PACKAGE_FILES and not n.startswith(PACKAGE_DIRS)
            and not n.rsplit("/", 1)[-1].startswith(".")]


@dataclass
class Returned:
    """A parsed annotation file.

    Attributes:
        format: the format name.
        batch: records (annotated images) and boxes; ``issues`` holds every problem found.
        files: the bundle members read.
    """

    format: str
    batch: SourceBatch
    files: list[str]


class Collector:
    """Maps names to package images and pixel boxes to relative ones, recording problems."""

    def __init__(self, manifest: Manifest, label: str) -> None:
        self.manifest = manifest
        self.lookup = manifest.lookup()
        self.label = label
        self.batch = SourceBatch()
        self._record_of: dict[int, int] = {}

    def where(self, member: str) -> str:
        """``bundle: member`` for messages."""
        return f"{self.label}: {member}"

    def image(self, name: str, where: str, declared: tuple[int, int] | None = None,
              line: int | None = None) -> int | None:
        """The record index of the package image ``name`` refers to (None: recorded error)."""
        k = self.lookup.find(name)
        if k is None:
            self.batch.error("unknown-image", where,
                             f"image {name!r} is not in this package (package "
                             f"{self.manifest.package_id}); was it added in the tool, or is "
                             "this the wrong --package?", line)
            return None
        im = self.manifest.images[k]
        if declared is not None and tuple(declared) != (im.width, im.height):
            self.batch.error("size-mismatch", where,
                             f"annotations for {im.file_name} were made for "
                             f"{declared[0]}x{declared[1]} but the image is "
                             f"{im.width}x{im.height}; was the image resized in the tool?", line)
            return None
        if k in self._record_of:
            self.batch.error("duplicate-image", where,
                             f"{im.file_name} appears more than once; keep one entry per image",
                             line)
            return None
        self._record_of[k] = len(self.batch.records)
        self.batch.records.append(ImageRecord(Path(im.file_name), name, labeled=True,
                                              fields={"package_index": k}))
        return self._record_of[k]

    def box_px(self, record: int, label: str, xyxy: tuple[float, float, float, float],
               where: str, line: int = 0, wh: tuple[float, float] | None = None) -> None:
        """Add a box given in pixels of the package image (``wh``: its size as written)."""
        im = self.manifest.images[self.batch.records[record].fields["package_index"]]
        x1, y1, x2, y2 = xyxy
        self.batch.boxes.add(record, label, (x1 / im.width, y1 / im.height, x2 / im.width,
                                             y2 / im.height), where, line,
                             None if wh is None else (wh[0] / im.width, wh[1] / im.height))

    def box_rel(self, record: int, label: str, xyxyn: tuple[float, float, float, float],
                where: str, line: int = 0, wh: tuple[float, float] | None = None) -> None:
        """Add a box given in relative corners (``wh``: its relative size as written)."""
        self.batch.boxes.add(record, label, xyxyn, where, line, wh)

    def prediction(self, where: str, what: str, line: int | None = None) -> None:
        """Record predictions offered as annotations."""
        self.batch.error("prediction-as-annotation", where,
                         f"{what}: these are model predictions, not annotations; import what "
                         "annotators submitted (export the annotations, not the predictions)",
                         line)


def single_member(bundle: Bundle, members: list[str], suffix: str, what: str) -> str:
    """The one member ending in ``suffix`` (``what`` names it in the error)."""
    found = [m for m in members if m.endswith(suffix)]
    if len(found) != 1:
        raise SourceError(f"{bundle.label}: expected one {what}, found {len(found)} "
                          f"({', '.join(found[:5])}); pass the file itself")
    return found[0]


def xml_root(bundle: Bundle, member: str) -> object:
    """Parse an XML member; documents that declare entities are refused (entity expansion)."""
    import xml.etree.ElementTree as ET

    text = read_text(bundle, member).encode()
    if _ENTITY.search(text):
        raise SourceError(f"{bundle.label}: {member} declares XML entities; refusing to expand "
                          "them (export the file again without a DTD)")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise SourceError(f"{bundle.label}: {member}:{exc.position[0]}: not valid XML "
                          f"({exc})") from exc
    except (LookupError, ValueError) as exc:  # e.g. an unknown encoding declared
        raise SourceError(f"{bundle.label}: {member}: not readable XML ({exc})") from exc


Parser = Callable[[Bundle, list[str], Manifest], Returned]
