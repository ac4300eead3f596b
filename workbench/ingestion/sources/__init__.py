"""Input formats, one module each, behind the ``SOURCES`` registry.

Adding a format is one module with a ``parse(path, options) -> SourceBatch`` and one
``SOURCES.register`` call below; ``help`` is what ``workbench ingest --format`` shows for it.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SourceError
from workbench.ingestion.sources import (
    classdir,
    coco,
    fathomnet,
    hf,
    imagedir,
    jsonl,
    npz,
    video,
    voc,
    yolo,
)
from workbench.media.records import Parser, SourceBatch, SourceOptions
from workbench.registry import Registry

#: Ingest formats: name -> parser; meta ``help`` describes what ``path`` is.
SOURCES: Registry[Parser] = Registry("format")
SOURCES.register("yolo", yolo.parse, help="data.yaml or its folder")
SOURCES.register("coco", coco.parse, help="JSON")
SOURCES.register("voc", voc.parse, help="XML folder")
SOURCES.register("jsonl", jsonl.parse, help="")
SOURCES.register("classdir", classdir.parse, help="one folder per class")
SOURCES.register("images", imagedir.parse, help="unlabeled folder")
SOURCES.register("npz", npz.parse, help="captures")
SOURCES.register("video", video.parse, help="a video file or a folder of them",
                 options=("every", "fps", "dedup_threshold"))
SOURCES.register("hf", hf.parse, help="hf:REPO_OR_PATH, a Hugging Face dataset", scheme=True,
                 options=("limit", "class_map", "split", "revision", "image_column",
                          "objects_column", "bbox_format"))
SOURCES.register("fathomnet", fathomnet.parse, help="fathomnet:CONCEPT[,CONCEPT]", scheme=True,
                 options=("limit", "class_map", "cache", "taxa_descendants", "bbox_only"))


def get_source(name: str) -> Parser:
    """The parser registered as ``name``.

    Raises:
        UnknownNameError: listing the valid formats.
    """
    return SOURCES.get(name)


def parse_source(name: str, path: Path, options: SourceOptions) -> SourceBatch:
    """Run the parser registered as ``name`` on ``path``.

    Raises:
        UnknownNameError: no such format; SourceError: the parser's own errors, and any
            OS error reading the input (a name too long, a permission, a vanished file),
            naming the path it failed on.
    """
    parser = get_source(name)
    try:
        return parser(path, options)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the input ({exc.strerror or exc}"
                          f"{f': {exc.filename}' if exc.filename else ''})") from exc


def format_help() -> str:
    """``yolo (data.yaml or its folder) | coco (JSON) | ...``: the ``--format`` help text."""
    return " | ".join(f"{e.name} ({e.meta['help']})" if e.meta.get("help") else e.name
                      for e in SOURCES)
