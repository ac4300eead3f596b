"""Returned-annotation formats: registry and detection."""

from __future__ import annotations

from workbench.annotation.bundle import Bundle, read_json
from workbench.annotation.formats import coco, cvat, labelstudio, voc, yolo
from workbench.annotation.formats.base import Parser, Returned, annotation_files, xml_root
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError, UnknownNameError

FORMATS: dict[str, Parser] = {
    "coco": coco.parse,
    "yolo": yolo.parse,
    "voc": voc.parse,
    "labelstudio": labelstudio.parse,
    "cvat": cvat.parse,
}


def detect(bundle: Bundle, members: list[str]) -> str:
    """Guess the format of a bundle's annotation files.

    Raises:
        SourceError: no annotation files, or several kinds at once.
    """
    kinds: set[str] = set()
    for member in members:
        if member.endswith(".json"):
            doc = read_json(bundle, member)
            if coco.is_coco(doc):
                kinds.add("coco")
            elif labelstudio.is_labelstudio(doc):
                kinds.add("labelstudio")
        elif member.endswith(".xml"):
            tag = getattr(xml_root(bundle, member), "tag", "")
            kinds.add("cvat" if tag == "annotations" else "voc" if tag == "annotation" else "")
        elif member.endswith(".txt"):
            kinds.add("yolo")
    kinds.discard("")
    if not kinds:
        raise SourceError(
            f"{bundle.label}: no annotation files found (looked for COCO or Label Studio "
            ".json, CVAT or VOC .xml, YOLO .txt); add the annotators' export, e.g. "
            "annotations.coco.json, to the package")
    if len(kinds) > 1:
        raise SourceError(f"{bundle.label}: annotation files of several formats "
                          f"({', '.join(sorted(kinds))}); choose one with --format")
    return kinds.pop()


def parse_returned(bundle: Bundle, manifest: Manifest, fmt: str = "auto") -> Returned:
    """Parse the annotation files of ``bundle`` (format ``fmt`` or detected)."""
    members = annotation_files(bundle)
    if fmt == "auto":
        fmt = detect(bundle, members)
    if fmt not in FORMATS:
        raise UnknownNameError("format", fmt, [*FORMATS, "auto"])
    return FORMATS[fmt](bundle, members, manifest)


__all__ = ["FORMATS", "Returned", "detect", "parse_returned"]
