"""CVAT for images 1.1 XML: ``<image name width height>`` with ``<box label xtl ytl xbr ybr>``.

Every listed image counts as annotated (CVAT lists all images of a task; one without boxes
is a negative). Video tracks (``<track>``) are refused: export as "CVAT for images".
"""

from __future__ import annotations

from typing import Any

from workbench.annotation.bundle import Bundle
from workbench.annotation.formats.base import Collector, Returned, single_member, xml_root
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError


def parse(bundle: Bundle, members: list[str], manifest: Manifest) -> Returned:
    """Parse one CVAT XML member."""
    member = single_member(bundle, members, ".xml", "CVAT annotations.xml")
    col = Collector(manifest, bundle.label)
    where = col.where(member)
    root: Any = xml_root(bundle, member)
    if root.tag != "annotations":
        raise SourceError(f"{where}: root element <{root.tag}>, expected CVAT <annotations>")
    if root.find("track") is not None:
        raise SourceError(f"{where}: holds video tracks; export the task as 'CVAT for images "
                          "1.1'")
    for n, image in enumerate(root.findall("image")):
        at = f"{where} image[{n}]"
        try:
            declared = (int(image.get("width", "")), int(image.get("height", "")))
        except ValueError:
            declared = None
        k = col.image(image.get("name", ""), at, declared)
        if k is None:
            continue
        for j, box in enumerate(image.findall("box")):
            bat = f"{at} box[{j}]"
            try:
                coords = [float(box.get(c, "nan")) for c in ("xtl", "ytl", "xbr", "ybr")]
            except ValueError:
                coords = [float("nan")] * 4
            label = (box.get("label") or "").strip()
            if not label or any(c != c for c in coords):
                raw = {c: box.get(c) for c in ("label", "xtl", "ytl", "xbr", "ybr")}
                col.batch.error("bad-box", bat, "each <box> needs label and numeric xtl, ytl, "
                                                f"xbr, ybr; got {raw}")
                continue
            try:
                rotated = not abs(float(box.get("rotation") or 0)) <= 1e-9
            except ValueError:
                rotated = True
            if rotated:
                col.batch.error("rotated-box", bat, f"box rotated by {box.get('rotation')} "
                                                    "degrees cannot be imported; set the "
                                                    "rotation to 0 in CVAT")
                continue
            col.box_px(k, label, (coords[0], coords[1], coords[2], coords[3]), bat)
    return Returned("cvat", col.batch, [member])
