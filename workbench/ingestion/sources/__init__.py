"""Input formats, one module each, behind the ``SOURCES`` registry."""

from __future__ import annotations

from workbench.errors import UnknownNameError
from workbench.ingestion.sources import classdir, coco, imagedir, jsonl, npz, voc, yolo
from workbench.media.records import Parser

SOURCES: dict[str, Parser] = {
    "yolo": yolo.parse,
    "coco": coco.parse,
    "voc": voc.parse,
    "jsonl": jsonl.parse,
    "classdir": classdir.parse,
    "images": imagedir.parse,
    "npz": npz.parse,
}


def get_source(name: str) -> Parser:
    """The parser registered as ``name``.

    Raises:
        UnknownNameError: listing the valid formats.
    """
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownNameError("format", name, list(SOURCES)) from None
