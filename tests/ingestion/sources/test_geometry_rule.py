"""One geometry rule for every ingest format: each bad box gets the same verdict everywhere,
and its message names the file, the entry and the value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import demo_images, make_yolo
from workbench.ingestion.sources import get_source
from workbench.media.records import SourceBatch, SourceOptions, check_boxes

NAN, INF = float("nan"), float("inf")

#: name -> (relative x_min, y_min, width, height as written, expected issue kind, value shown)
CASES = {
    "negative-width": ((0.5, 0.2, -0.1, 0.2), "box-negative-size", "width -0.1"),
    "negative-height": ((0.2, 0.5, 0.2, -0.1), "box-negative-size", "height -0.1"),
    "nan": ((NAN, 0.2, 0.1, 0.1), "box-not-finite", "nan"),
    "inf": ((0.2, 0.2, INF, 0.1), "box-not-finite", "inf"),
    "far-outside": ((0.9, 0.2, 0.5, 0.2), "box-outside-image", "1.4000"),
    "slightly-outside": ((-0.005, 0.2, 0.2, 0.2), "box-clipped", "-0.0050"),
    "zero-area": ((0.2, 0.2, 0.0, 0.1), "empty-box", "0.2000, 0.2000, 0.2000"),
}
SEVERITY = {"box-clipped": "warning", "empty-box": "warning"}


def _image(tmp_path: Path) -> tuple[Path, int, int]:
    src = demo_images(n=1)[0]
    (tmp_path / "imgs").mkdir()
    dst = tmp_path / "imgs" / src.name
    shutil.copy(src, dst)
    with Image.open(dst) as im:
        return dst, im.size[0], im.size[1]


def _yolo(tmp_path: Path, box: tuple[float, ...]) -> tuple[Path, str]:
    x, y, w, h = box
    img = demo_images(n=1)[0]
    root = make_yolo(tmp_path / "y", {"train": [img]},
                     labels={img.stem: f"0 {x + w / 2!r} {y + h / 2!r} {w!r} {h!r}\n"})
    return root, f"{img.stem}.txt"


def _coco(tmp_path: Path, box: tuple[float, ...]) -> tuple[Path, str]:
    img, iw, ih = _image(tmp_path)
    x, y, w, h = box
    doc = {"images": [{"id": 1, "file_name": img.name, "width": iw, "height": ih}],
           "categories": [{"id": 1, "name": "fish"}],
           "annotations": [{"id": 7, "image_id": 1, "category_id": 1,
                            "bbox": [x * iw, y * ih, w * iw, h * ih]}]}
    path = tmp_path / "imgs" / "ann.json"
    path.write_text(json.dumps(doc))  # NaN / Infinity are written as JSON extensions
    return path, "annotations[0]"


def _voc(tmp_path: Path, box: tuple[float, ...]) -> tuple[Path, str]:
    img, iw, ih = _image(tmp_path)
    x, y, w, h = box
    corners = (x * iw, y * ih, (x + w) * iw, (y + h) * ih)
    bnd = "".join(f"<{k}>{v!r}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), corners,
                                                         strict=True))
    xml = (f"<annotation><filename>{img.name}</filename><size><width>{iw}</width>"
           f"<height>{ih}</height></size><object><name>fish</name><bndbox>{bnd}</bndbox>"
           "</object></annotation>")
    (tmp_path / "imgs" / "a.xml").write_text(xml)
    return tmp_path / "imgs", "a.xml object[0]"


def _jsonl(tmp_path: Path, box: tuple[float, ...]) -> tuple[Path, str]:
    img, _, _ = _image(tmp_path)
    x, y, w, h = box
    ann = {"annotation_label": "fish", "x_min_normalized": x, "y_min_normalized": y,
           "x_max_normalized": x + w, "y_max_normalized": y + h}
    path = tmp_path / "imgs" / "m.jsonl"
    path.write_text(json.dumps({"image_path": img.name, "bounding_box_annotations": [ann]}))
    return path, "m.jsonl"


WRITERS = {"yolo": _yolo, "coco": _coco, "voc": _voc, "jsonl": _jsonl}


def _geometry_issues(batch: SourceBatch) -> list:  # type: ignore[type-arg]
    return [i for i in batch.issues if i.kind.startswith(("box-", "empty-box"))]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_one_rule_per_format(tmp_path: Path, fmt: str, case: str) -> None:
    box, kind, value = CASES[case]
    if fmt == "voc" and case == "nan":
        pytest.skip("VOC's own check refuses a non-numeric <bndbox> first (bad-object)")
    path, entry = WRITERS[fmt](tmp_path, box)
    batch = get_source(fmt)(path, SourceOptions())
    assert not [i for i in batch.issues if i.severity == "error"], batch.issues
    keep, xyxyn = check_boxes(batch)
    issues = _geometry_issues(batch)
    assert [i.kind for i in issues] == [kind]
    issue = issues[0]
    assert issue.severity == SEVERITY.get(kind, "error")
    assert entry in issue.where(), issue.where()
    if fmt in ("yolo", "jsonl"):
        assert issue.line == 1
    assert value in issue.message, issue.message
    assert bool(keep[0]) == (kind == "box-clipped")
    if kind == "box-clipped":
        assert xyxyn[0].min() >= 0.0 and xyxyn[0].max() <= 1.0


def test_voc_nan_is_refused_naming_the_value(tmp_path: Path) -> None:
    path, _ = _voc(tmp_path, CASES["nan"][0])
    batch = get_source("voc")(path, SourceOptions())
    (issue,) = [i for i in batch.issues if i.kind == "bad-object"]
    assert "object[0]" in issue.file and "'xmin': 'nan'" in issue.message
