"""Pascal VOC XML, one file per image (``filename``, ``size``, ``object/bndbox`` in pixels)."""

from __future__ import annotations

from typing import Any

from workbench.annotation.bundle import Bundle
from workbench.annotation.formats.base import Collector, Returned, xml_root
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError


def parse(bundle: Bundle, members: list[str], manifest: Manifest) -> Returned:
    """Parse every VOC ``.xml`` member."""
    from workbench.ingestion.api import declared_size

    xmls = [m for m in members if m.endswith(".xml")]
    if not xmls:
        raise SourceError(f"{bundle.label}: no VOC .xml files found")
    col = Collector(manifest, bundle.label)
    for member in xmls:
        where = col.where(member)
        root: Any = xml_root(bundle, member)
        if root.tag != "annotation":
            col.batch.error("not-voc", where, f"root element <{root.tag}>, expected <annotation>")
            continue
        name = (root.findtext("filename") or "").strip() or member.rsplit("/", 1)[-1][:-4]
        k = col.image(name, where, declared_size(root))
        if k is None:
            continue
        for n, obj in enumerate(root.findall("object")):
            at = f"{where} object[{n}]"
            label = (obj.findtext("name") or "").strip()
            try:
                coords = [float(obj.findtext(f"bndbox/{c}") or "nan")
                          for c in ("xmin", "ymin", "xmax", "ymax")]
            except ValueError:
                coords = [float("nan")] * 4
            if not label or any(c != c for c in coords):
                raw = {c: obj.findtext(f"bndbox/{c}") for c in ("xmin", "ymin", "xmax", "ymax")}
                col.batch.error("bad-object", at, "each <object> needs <name> and numeric "
                                                  "<bndbox> xmin/ymin/xmax/ymax; got name "
                                                  f"{label!r}, bndbox {raw}")
                continue
            col.box_px(k, label, (coords[0], coords[1], coords[2], coords[3]), at)
    return Returned("voc", col.batch, xmls)
