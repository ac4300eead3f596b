"""Pascal VOC: one XML per image with ``filename``, ``size`` and ``object/bndbox``.

Boxes are pixel ``xmin ymin xmax ymax``, normalized by the declared size the way FiftyOne's
VOC importer does (``x / width``), so a FiftyOne VOC export round-trips exactly. The layouts
(devkit root, FiftyOne ``data/`` + ``labels/``, a folder of XML files) and the image folders
searched are in :mod:`.voc_layout`; each XML's image is its ``<filename>``, else the base name
of its ``<path>``, in those folders. A devkit's ``ImageSets/Main/{train,val,test}.txt`` give
the listed images their split (``trainval`` alone leaves it to ``workbench split``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from workbench.ingestion.sources.voc_layout import (
    VocLayout,
    path_basename,
    read_image_sets,
    resolve,
    split_of,
)
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions

MAX_XML_BYTES = 16 * 1024**2


def declared_size(root: ET.Element) -> tuple[int, int] | None:
    """``<size><width>/<height>`` of a VOC document, or None when missing or invalid."""
    try:
        w = int(float(root.findtext("size/width") or 0))
        h = int(float(root.findtext("size/height") or 0))
    except (ValueError, OverflowError):  # not a number, NaN, or infinite
        return None
    return (w, h) if w > 0 and h > 0 else None


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse a VOC devkit root, a FiftyOne VOC export, a folder of XML files or one XML file."""
    layout = resolve(path, options.images_dir)
    xml_dir = layout.xml_dir
    splits = _splits_from_image_sets(layout, options)
    batch = SourceBatch()
    for xml_path in layout.xml_files:
        if xml_path.stat().st_size > MAX_XML_BYTES:
            batch.drop("too-large", xml_path, f"XML larger than {MAX_XML_BYTES} bytes")
            continue
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as exc:
            batch.drop("bad-xml", xml_path, f"not valid XML: {exc}", exc.position[0])
            continue
        except (LookupError, ValueError) as exc:  # e.g. an unknown encoding declared
            batch.drop("bad-xml", xml_path, f"not readable XML: {exc}")
            continue
        filename = (root.findtext("filename") or "").strip()
        names = [n for n in dict.fromkeys(
            [filename, path_basename(root.findtext("path") or "")]) if n]
        if not names:
            batch.drop("no-filename", xml_path, "missing <filename> (and <path>)")
            continue
        image_path = layout.find_image(names)
        if image_path is None:
            batch.drop("missing-image", xml_path,
                       f"image {' or '.join(repr(n) for n in names)} not found; searched "
                       f"{layout.searched()}; put it there or pass --images DIR")
            continue
        declared = declared_size(root)
        index = len(batch.records)
        split = "pool" if options.unlabeled else None
        if splits is not None:
            listed = splits.get(xml_path.stem) or splits.get(image_path.stem)
            if listed is not None:
                split, conflict = split_of(listed)
                if conflict:
                    batch.error("conflicting-image-sets", xml_path,
                                f"id {xml_path.stem!r} is listed in {conflict} in "
                                f"{layout.image_sets}; keep it in one list", image=index)
        batch.records.append(ImageRecord(
            image_path, str(xml_path.relative_to(xml_dir)), labeled=not options.unlabeled,
            split=split, declared_size=declared))
        if options.unlabeled:
            continue
        objects = root.findall("object")
        if objects and declared is None:
            batch.error("no-image-size", xml_path,
                        "missing or invalid <size><width>/<height> (got width "
                        f"{root.findtext('size/width')!r}, height "
                        f"{root.findtext('size/height')!r}); needed to normalize boxes",
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
                raw = {k: obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")}
                batch.error("bad-object", where,
                            "each <object> needs <name> and numeric <bndbox> xmin/ymin/xmax/ymax;"
                            f" got name {name!r}, bndbox {raw}", image=index)
                continue
            assert declared is not None
            w, h = declared
            batch.boxes.add(index, name, (coords[0] / w, coords[1] / h, coords[2] / w,
                                          coords[3] / h), where)
    if not options.unlabeled:
        batch.class_names = sorted(set(batch.boxes.label))
    if splits is not None:
        _report_unmatched(batch, layout, splits)
    return batch


def _splits_from_image_sets(layout: VocLayout,
                            options: SourceOptions) -> dict[str, set[str]] | None:
    """``{id: names of the lists that hold it}``, or None (no lists, or ``--unlabeled``)."""
    if layout.image_sets is None or options.unlabeled:
        return None
    lists = read_image_sets(layout.image_sets)
    if not lists:
        return None
    by_id: dict[str, set[str]] = {}
    for name, ids in lists.items():
        for id_ in ids:
            by_id.setdefault(id_, set()).add(name)
    return by_id


def _report_unmatched(batch: SourceBatch, layout: VocLayout, splits: dict[str, set[str]]) -> None:
    """Name the lists read (``batch.split_origin``); warn about ids without an XML file."""
    assert layout.image_sets is not None
    names = sorted({n for lists in splits.values() for n in lists})
    batch.split_origin = f"{layout.image_sets}/{{{','.join(names)}}}.txt"
    matched = {Path(r.source_id).stem for r in batch.records} | {
        r.path.stem for r in batch.records}
    missing = sorted(set(splits) - matched)
    if missing:
        batch.warn("image-set-id-without-annotation", layout.image_sets,
                   f"{len(missing)} id(s) listed here have no ingested annotation in "
                   f"{layout.xml_dir} (first: {', '.join(missing[:5])}); they are ignored")
