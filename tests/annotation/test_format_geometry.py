"""Returned-annotation formats apply the one geometry rule and name file, entry and value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.annotation.bundle import open_bundle
from workbench.annotation.formats import FORMATS
from workbench.annotation.manifest import Manifest, PackageImage, classes_hash
from workbench.media.records import check_boxes

W, H = 200, 100
NAN, INF = float("nan"), float("inf")
CASES = {  # relative x_min, y_min, width, height -> kind, value shown
    "negative-width": ((0.5, 0.2, -0.1, 0.2), "box-negative-size", "width -0.1"),
    "negative-height": ((0.2, 0.5, 0.2, -0.1), "box-negative-size", "height -0.1"),
    "inf": ((0.2, 0.2, INF, 0.1), "box-not-finite", "inf"),
    "far-outside": ((0.9, 0.2, 0.5, 0.2), "box-outside-image", "1.4000"),
    "slightly-outside": ((-0.005, 0.2, 0.2, 0.2), "box-clipped", "-0.0050"),
    "zero-area": ((0.2, 0.2, 0.0, 0.1), "empty-box", "zero width"),
}


def _manifest() -> Manifest:
    classes = ["fish"]
    return Manifest("pkg1", {"name": "t", "dataset_id": "d", "root": "/x"}, None, None, "now",
                    "0", classes, classes_hash(classes), None,
                    [PackageImage("5f" + "0" * 22, "a.jpg", "0" * 64, W, H)])


def _coco(d: Path, b: tuple[float, ...]) -> str:
    x, y, w, h = b
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
           "categories": [{"id": 1, "name": "fish"}],
           "annotations": [{"id": 3, "image_id": 1, "category_id": 1,
                            "bbox": [x * W, y * H, w * W, h * H]}]}
    (d / "annotations.json").write_text(json.dumps(doc))
    return "annotations[0]"


def _yolo(d: Path, b: tuple[float, ...]) -> str:
    x, y, w, h = b
    (d / "classes.txt").write_text("fish\n")
    (d / "a.txt").write_text(f"0 {x + w / 2!r} {y + h / 2!r} {w!r} {h!r}\n")
    return "a.txt"


def _voc(d: Path, b: tuple[float, ...]) -> str:
    x, y, w, h = b
    c = (x * W, y * H, (x + w) * W, (y + h) * H)
    bnd = "".join(f"<{k}>{v!r}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), c,
                                                         strict=True))
    (d / "a.xml").write_text(f"<annotation><filename>a.jpg</filename><size><width>{W}</width>"
                             f"<height>{H}</height></size><object><name>fish</name><bndbox>"
                             f"{bnd}</bndbox></object></annotation>")
    return "a.xml object[0]"


def _labelstudio(d: Path, b: tuple[float, ...]) -> str:
    x, y, w, h = b
    task = {"id": 9, "data": {"image": "a.jpg"}, "annotations": [{"id": 1, "result": [
        {"type": "rectanglelabels", "original_width": W, "original_height": H,
         "value": {"x": x * 100, "y": y * 100, "width": w * 100, "height": h * 100,
                   "rectanglelabels": ["fish"]}}]}]}
    (d / "export.json").write_text(json.dumps([task]))
    return "[task 9]"


def _cvat(d: Path, b: tuple[float, ...]) -> str:
    x, y, w, h = b
    c = (x * W, y * H, (x + w) * W, (y + h) * H)
    (d / "annotations.xml").write_text(
        f'<annotations><image id="0" name="a.jpg" width="{W}" height="{H}"><box label="fish" '
        f'xtl="{c[0]!r}" ytl="{c[1]!r}" xbr="{c[2]!r}" ybr="{c[3]!r}"/></image></annotations>')
    return "image[0] box[0]"


WRITERS = {"coco": _coco, "yolo": _yolo, "voc": _voc, "labelstudio": _labelstudio,
           "cvat": _cvat}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_one_rule_per_annotation_format(tmp_path: Path, fmt: str, case: str) -> None:
    box, kind, value = CASES[case]
    d = tmp_path / "ret"
    d.mkdir()
    entry = WRITERS[fmt](d, box)
    bundle = open_bundle(d)
    from workbench.annotation.formats.base import annotation_files

    returned = FORMATS.get(fmt)(bundle, annotation_files(bundle), _manifest())
    batch = returned.batch
    assert not [i for i in batch.issues if i.severity == "error"], batch.issues
    check_boxes(batch)
    (issue,) = [i for i in batch.issues if i.kind.startswith(("box-", "empty-box"))]
    assert issue.kind == kind
    assert entry in issue.where(), issue.where()
    if fmt == "yolo":
        assert issue.line == 1
    assert value in issue.message, issue.message


def test_coco_unknown_category_names_the_id(tmp_path: Path) -> None:
    d = tmp_path / "ret"
    d.mkdir()
    _coco(d, (0.1, 0.1, 0.2, 0.2))
    doc = json.loads((d / "annotations.json").read_text())
    doc["annotations"][0]["category_id"] = 17
    (d / "annotations.json").write_text(json.dumps(doc))
    bundle = open_bundle(d)
    batch = FORMATS.get("coco")(bundle, ["annotations.json"], _manifest()).batch
    (issue,) = batch.issues
    assert issue.kind == "unknown-category" and "annotations.json annotations[0]" in issue.file
    assert "unknown category_id 17 in annotation 3 (image_id 1)" in issue.message
    assert "ids 1..1" in issue.message
