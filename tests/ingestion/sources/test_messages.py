"""Ingest errors name the file, the entry and the offending value."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ingestion.sources.test_geometry_rule import _coco, _image
from workbench.ingestion.sources import get_source
from workbench.media.records import SourceOptions


def _only(batch, kind: str):  # type: ignore[no-untyped-def]
    found = [i for i in batch.issues if i.kind == kind]
    assert len(found) == 1, batch.issues
    return found[0]


def test_coco_unknown_category_names_the_id(tmp_path: Path) -> None:
    path, _ = _coco(tmp_path, (0.1, 0.1, 0.2, 0.2))
    doc = json.loads(path.read_text())
    doc["categories"] = [{"id": i, "name": f"c{i}"} for i in range(1, 8)]
    doc["annotations"][0].update(category_id=17, id=5)
    path.write_text(json.dumps(doc))
    issue = _only(get_source("coco")(path, SourceOptions()), "unknown-category")
    assert str(path) in issue.file and "annotations[0]" in issue.file
    assert issue.message.startswith("unknown category_id 17 in annotation 5 (image_id 1); "
                                    "'categories' has ids 1..7")


def test_coco_bad_entries_name_the_value(tmp_path: Path) -> None:
    path, _ = _coco(tmp_path, (0.1, 0.1, 0.2, 0.2))
    doc = json.loads(path.read_text())
    doc["images"].append({"file_name": "x.jpg"})
    doc["annotations"] += ["oops", {"id": 8, "image_id": 1, "category_id": 1, "bbox": [1, 2]}]
    path.write_text(json.dumps(doc))
    batch = get_source("coco")(path, SourceOptions())
    assert "{'file_name': 'x.jpg'}" in _only(batch, "bad-image-entry").message
    assert "got 'oops'" in _only(batch, "bad-annotation").message
    bbox = _only(batch, "bad-bbox")
    assert "annotation 8" in bbox.message and "got [1, 2]" in bbox.message


def test_jsonl_bad_lines_name_the_value(tmp_path: Path) -> None:
    img, _, _ = _image(tmp_path)
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([
        json.dumps({"image_path": 42}),
        json.dumps({"image_path": str(img), "bounding_box_annotations": {"a": 1}}),
        json.dumps({"image_path": str(img), "bounding_box_annotations": [{"x": 1}]}),
    ]) + "\n")
    batch = get_source("jsonl")(path, SourceOptions())
    assert (_only(batch, "no-image-path").line, "got 42" in _only(batch, "no-image-path").message
            ) == (1, True)
    assert "got {'a': 1}" in _only(batch, "bad-annotations").message
    bad = _only(batch, "bad-annotation")
    assert bad.line == 3 and "got {'x': 1}" in bad.message
