"""Pascal VOC: one XML per image with ``filename``, ``size`` and ``object/bndbox``.

Boxes are pixel ``xmin ymin xmax ymax``, normalized by the declared size the way FiftyOne's
VOC importer does (``x / width``), so a FiftyOne VOC export round-trips exactly. Images are
looked up in ``--images DIR``, else ``../JPEGImages`` beside the XML folder, else the XML folder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from workbench.errors import SourceError
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions

MAX_XML_BYTES = 16 * 1024**2


def _image_dir(xml_dir: Path, options: SourceOptions) -> Path:
    if options.images_dir:
        return options.images_dir
    sibling = xml_dir.parent / "JPEGImages"
    return sibling if sibling.is_dir() else xml_dir


def declared_size(root: ET.Element) -> tuple[int, int] | None:
    """``<size><width>/<height>`` of a VOC document, or None when missing or invalid."""
    try:
        w = int(float(root.findtext("size/width") or 0))
        h = int(float(root.findtext("size/height") or 0))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse a folder of VOC XML files (or one XML file)."""
    xml_files = [path] if path.is_file() else sorted(path.rglob("*.xml"))
    if not xml_files:
        raise SourceError(f"{path}: no VOC .xml annotation files found")
    xml_dir = path.parent if path.is_file() else path
    image_dir = _image_dir(xml_dir, options)
    batch = SourceBatch()
    for xml_path in xml_files:
        if xml_path.stat().st_size > MAX_XML_BYTES:
            batch.error("too-large", xml_path, f"XML larger than {MAX_XML_BYTES} bytes")
            continue
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as exc:
            batch.error("bad-xml", xml_path, f"not valid XML: {exc}", exc.position[0])
            continue
        filename = (root.findtext("filename") or "").strip()
        if not filename:
            batch.error("no-filename", xml_path, "missing <filename>")
            continue
        image_path = (image_dir / filename).resolve()
        if not image_path.is_file():
            batch.error("missing-image", xml_path,
                        f"image {filename!r} not found in {image_dir}; pass --images DIR")
            continue
        declared = declared_size(root)
        index = len(batch.records)
        batch.records.append(ImageRecord(
            image_path, str(xml_path.relative_to(xml_dir)), labeled=not options.unlabeled,
            split="pool" if options.unlabeled else None, declared_size=declared))
        if options.unlabeled:
            continue
        objects = root.findall("object")
        if objects and declared is None:
            batch.error("no-image-size", xml_path,
                        "missing or invalid <size><width>/<height>; needed to normalize boxes",
                        image=index)
            continue
        for n, obj in enumerate(objects):
            name = (obj.findtext("name") or "").strip()
            try:
                coords = [float(obj.findtext(f"bndbox/{k}") or "nan")
                          for k in ("xmin", "ymin", "xmax", "ymax")]
            except ValueError:
                coords = [float("nan")] * 4
            where = f"{xml_path} object[{n}]"
            if not name or any(c != c for c in coords):
                batch.error("bad-object", where,
                            "each <object> needs <name> and numeric <bndbox> xmin/ymin/xmax/ymax",
                            image=index)
                continue
            assert declared is not None
            w, h = declared
            batch.boxes.add(index, name, (coords[0] / w, coords[1] / h, coords[2] / w,
                                          coords[3] / h), where)
    if not options.unlabeled:
        batch.class_names = sorted(set(batch.boxes.label))
    return batch
