"""Returned-annotation formats: the :data:`FORMATS` registry and detection.

Each format registers its parser with the file suffix its annotation files have and, where
several formats share a suffix, a ``sniff`` predicate over the parsed document (a JSON value
or an XML root element). Adding a format is one :meth:`~workbench.registry.Registry.register`
call here plus its tests.
"""

from __future__ import annotations

from typing import Any

from workbench.annotation.bundle import Bundle, read_json
from workbench.annotation.formats import coco, cvat, labelstudio, voc, yolo
from workbench.annotation.formats.base import Parser, Returned, annotation_files, xml_root
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError, UnknownNameError
from workbench.registry import Registry

#: The name ``--format`` takes to detect the format from the files.
AUTO = "auto"

FORMATS: Registry[Parser] = Registry("format")
FORMATS.register("coco", coco.parse, suffix=".json", sniff=coco.is_coco,
                 help="COCO detection JSON")
FORMATS.register("yolo", yolo.parse, suffix=".txt", sniff=None,
                 help="YOLO .txt folder or zip")
FORMATS.register("voc", voc.parse, suffix=".xml",
                 sniff=lambda root: getattr(root, "tag", "") == "annotation",
                 help="Pascal VOC XML folder")
FORMATS.register("labelstudio", labelstudio.parse, suffix=".json",
                 sniff=labelstudio.is_labelstudio, help="Label Studio JSON export")
FORMATS.register("cvat", cvat.parse, suffix=".xml",
                 sniff=lambda root: getattr(root, "tag", "") == "annotations",
                 help="CVAT for images XML")


def format_choices() -> list[str]:
    """What ``--format`` accepts: ``auto`` then every registered format."""
    return [AUTO, *FORMATS.names()]


def _content(bundle: Bundle, member: str, suffix: str) -> Any:
    if suffix == ".json":
        return read_json(bundle, member)
    if suffix == ".xml":
        return xml_root(bundle, member)
    return None


def detect(bundle: Bundle, members: list[str]) -> str:
    """Guess the format of a bundle's annotation files.

    Raises:
        SourceError: no annotation files, or several kinds at once.
    """
    kinds: set[str] = set()
    suffixes = list(dict.fromkeys(FORMATS.meta(n)["suffix"] for n in FORMATS.names()))
    for member in members:
        suffix = next((s for s in suffixes if member.endswith(s)), None)
        if suffix is None:
            continue
        content = _content(bundle, member, suffix)
        for name in FORMATS.names(suffix=suffix):
            sniff = FORMATS.meta(name)["sniff"]
            if sniff is None or sniff(content):
                kinds.add(name)
                break
    if not kinds:
        raise SourceError(
            f"{bundle.label}: no annotation files found (looked for COCO or Label Studio "
            ".json, CVAT or VOC .xml, YOLO .txt); add the annotators' export, e.g. "
            "annotations.coco.json, to the package")
    if len(kinds) > 1:
        raise SourceError(f"{bundle.label}: annotation files of several formats "
                          f"({', '.join(sorted(kinds))}); choose one with --format")
    return kinds.pop()


def parse_returned(bundle: Bundle, manifest: Manifest, fmt: str = AUTO) -> Returned:
    """Parse the annotation files of ``bundle`` (format ``fmt`` or detected)."""
    members = annotation_files(bundle)
    if fmt == AUTO:
        fmt = detect(bundle, members)
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, format_choices())
    return FORMATS.get(fmt)(bundle, members, manifest)


__all__ = ["AUTO", "FORMATS", "Returned", "detect", "format_choices", "parse_returned"]
