"""Write known boxes in each annotation tool's format, as the tools write them.

``truth`` maps a package file name to ``(width, height, [(label, [x, y, w, h] relative)])``.
Class lists are deliberately in another order than the workspace's (matching is by name).
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

Truth = dict[str, tuple[int, int, list[tuple[str, list[float]]]]]


def _names(truth: Truth) -> list[str]:
    return sorted({label for _, _, boxes in truth.values() for label, _ in boxes}, reverse=True)


def coco(truth: Truth, path: Path, score: bool = False) -> Path:
    names = _names(truth)
    cats = [{"id": 10 + k, "name": n} for k, n in enumerate(names)]
    images, anns = [], []
    for n, (name, (w, h, boxes)) in enumerate(truth.items(), start=1):
        images.append({"id": n, "file_name": f"images/{name}", "width": w, "height": h})
        for label, (x, y, bw, bh) in boxes:
            ann = {"id": len(anns) + 1, "image_id": n, "category_id": 10 + names.index(label),
                   "bbox": [x * w, y * h, bw * w, bh * h], "iscrowd": 0}
            if score:
                ann["score"] = 0.9
            anns.append(ann)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def yolo(truth: Truth, folder: Path) -> Path:
    names = _names(truth)
    (folder / "obj_train_data").mkdir(parents=True)
    (folder / "obj.names").write_text("\n".join(names) + "\n")
    for name, (_, _, boxes) in truth.items():
        lines = [f"{names.index(label)} {x + bw / 2!r} {y + bh / 2!r} {bw!r} {bh!r}"
                 for label, (x, y, bw, bh) in boxes]
        (folder / "obj_train_data" / (name.rsplit(".", 1)[0] + ".txt")).write_text(
            "\n".join(lines) + ("\n" if lines else ""))
    return folder


def voc(truth: Truth, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, (w, h, boxes) in truth.items():
        objs = "".join(
            f"<object><name>{label}</name><bndbox><xmin>{x * w!r}</xmin><ymin>{y * h!r}</ymin>"
            f"<xmax>{(x + bw) * w!r}</xmax><ymax>{(y + bh) * h!r}</ymax></bndbox></object>"
            for label, (x, y, bw, bh) in boxes)
        (folder / (name.rsplit(".", 1)[0] + ".xml")).write_text(
            f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}"
            f"</height><depth>3</depth></size>{objs}</annotation>")
    return folder


def cvat(truth: Truth, path: Path) -> Path:
    labels = "".join(f"<label><name>{n}</name></label>" for n in _names(truth))
    images = []
    for k, (name, (w, h, boxes)) in enumerate(truth.items()):
        bx = "".join(
            f"<box label={quoteattr(label)} occluded=\"0\" xtl=\"{x * w!r}\" ytl=\"{y * h!r}\" "
            f"xbr=\"{(x + bw) * w!r}\" ybr=\"{(y + bh) * h!r}\" z_order=\"0\"/>"
            for label, (x, y, bw, bh) in boxes)
        images.append(f'<image id="{k}" name="{name}" width="{w}" height="{h}">{bx}</image>')
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version>'
                    f"<meta><task><labels>{labels}</labels></task></meta>{''.join(images)}"
                    "</annotations>")
    return path


def labelstudio(truth: Truth, path: Path) -> Path:
    tasks = []
    for k, (name, (w, h, boxes)) in enumerate(truth.items()):
        result = [{"type": "rectanglelabels", "from_name": "label", "to_name": "image",
                   "original_width": w, "original_height": h,
                   "value": {"x": x * 100, "y": y * 100, "width": bw * 100, "height": bh * 100,
                             "rotation": 0, "rectanglelabels": [label]}}
                  for label, (x, y, bw, bh) in boxes]
        tasks.append({"id": k + 1, "data": {"image": f"/data/upload/1/0a1b2c3d-{name}"},
                      "annotations": [{"id": k + 1, "result": result, "was_cancelled": False,
                                       "updated_at": "2026-11-23T10:00:00Z"}],
                      "predictions": []})
    path.write_text(json.dumps(tasks))
    return path


WRITERS = {
    "coco": lambda t, d: coco(t, d / "export.json"),
    "yolo": lambda t, d: yolo(t, d / "yolo"),
    "voc": lambda t, d: voc(t, d / "voc"),
    "cvat": lambda t, d: cvat(t, d / "annotations.xml"),
    "labelstudio": lambda t, d: labelstudio(t, d / "project-1.json"),
}
