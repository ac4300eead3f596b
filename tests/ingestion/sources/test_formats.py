"""COCO, VOC, JSONL, class folders, image folders and npz captures, each with bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import demo_images
from workbench.errors import SourceError, UnknownNameError
from workbench.ingestion.sources import SOURCES, get_source
from workbench.media.records import SourceOptions


def _copy_images(dst: Path, n: int = 3) -> list[Path]:
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for p in demo_images(n=n):
        shutil.copy(p, dst / p.name)
        out.append(dst / p.name)
    return out


def _size(p: Path) -> tuple[int, int]:
    with Image.open(p) as im:
        return im.size


def _kinds(batch) -> set[str]:  # type: ignore[no-untyped-def]
    return {i.kind for i in batch.issues}


def test_registry_lists_valid_names() -> None:
    assert set(SOURCES.names()) == {"yolo", "coco", "voc", "jsonl", "classdir", "images", "npz",
                                    "video", "fathomnet", "hf"}
    with pytest.raises(UnknownNameError, match="valid formats: classdir, coco"):
        get_source("kitti")


# --- COCO ---------------------------------------------------------------------------------

def _coco(tmp_path: Path) -> tuple[Path, list[Path], dict]:
    imgs = _copy_images(tmp_path / "imgs")
    w, h = _size(imgs[0])
    doc = {
        "images": [{"id": i + 1, "file_name": p.name, "width": _size(p)[0],
                    "height": _size(p)[1]} for i, p in enumerate(imgs)],
        "categories": [{"id": 5, "name": "shark"}, {"id": 9, "name": "fish"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 1, "category_id": 5, "bbox": [0, 0, w, h]},
        ],
    }
    path = tmp_path / "imgs" / "ann.json"
    path.write_text(json.dumps(doc))
    return path, imgs, doc


def test_coco_boxes_and_names(tmp_path: Path) -> None:
    path, imgs, _ = _coco(tmp_path)
    batch = SOURCES.get("coco")(path, SourceOptions())
    w, h = _size(imgs[0])
    _, label, xyxyn = batch.boxes.arrays()
    assert label.tolist() == ["fish", "shark"]
    np.testing.assert_allclose(xyxyn[0], [10 / w, 20 / h, 40 / w, 60 / h])
    np.testing.assert_allclose(xyxyn[1], [0, 0, 1, 1])
    assert batch.class_names == ["shark", "fish"]
    assert len(batch.records) == 3 and batch.issues == []


@pytest.mark.parametrize(
    ("mutate", "kind"),
    [
        (lambda d: d["annotations"].append({"image_id": 99, "category_id": 9,
                                            "bbox": [0, 0, 1, 1]}), "unknown-image-id"),
        (lambda d: d["annotations"].append({"image_id": 1, "category_id": 3,
                                            "bbox": [0, 0, 1, 1]}), "unknown-category"),
        (lambda d: d["annotations"].append({"image_id": 1, "category_id": 9, "bbox": [0, 0]}),
         "bad-bbox"),
        (lambda d: d["images"].append({"id": 50, "file_name": "gone.jpg", "width": 4,
                                       "height": 4}), "missing-image"),
    ],
)
def test_coco_bad_input(tmp_path: Path, mutate, kind: str) -> None:  # type: ignore[no-untyped-def]
    path, _, doc = _coco(tmp_path)
    mutate(doc)
    path.write_text(json.dumps(doc))
    batch = SOURCES.get("coco")(path, SourceOptions())
    assert kind in _kinds(batch)
    assert all(i.severity == "error" for i in batch.issues)


def test_coco_malformed_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"images": [\n{"id": 1,,}\n]}')
    with pytest.raises(SourceError, match=r"a.json:2: not valid JSON"):
        SOURCES.get("coco")(path, SourceOptions())


# --- VOC ----------------------------------------------------------------------------------

def _voc_xml(name: str, w: int, h: int, objects: str) -> str:
    return (f"<annotation><filename>{name}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objects}</annotation>")


def test_voc_boxes(tmp_path: Path) -> None:
    imgs = _copy_images(tmp_path / "JPEGImages", n=2)
    ann = tmp_path / "Annotations"
    ann.mkdir()
    w, h = _size(imgs[0])
    obj = ("<object><name>puffin</name><bndbox><xmin>10</xmin><ymin>20</ymin>"
           "<xmax>50</xmax><ymax>60</ymax></bndbox></object>")
    (ann / "a.xml").write_text(_voc_xml(imgs[0].name, w, h, obj))
    (ann / "b.xml").write_text(_voc_xml(imgs[1].name, *_size(imgs[1]), ""))
    batch = SOURCES.get("voc")(ann, SourceOptions())
    _, label, xyxyn = batch.boxes.arrays()
    assert label.tolist() == ["puffin"]
    np.testing.assert_allclose(xyxyn[0], [10 / w, 20 / h, 50 / w, 60 / h])
    assert len(batch.records) == 2 and batch.records[1].labeled


def test_voc_bad_input(tmp_path: Path) -> None:
    imgs = _copy_images(tmp_path / "JPEGImages", n=1)
    ann = tmp_path / "Annotations"
    ann.mkdir()
    (ann / "broken.xml").write_text("<annotation><filename>")
    (ann / "missing.xml").write_text(_voc_xml("gone.jpg", 10, 10, ""))
    bad_obj = "<object><name>fish</name><bndbox><xmin>a</xmin></bndbox></object>"
    (ann / "obj.xml").write_text(_voc_xml(imgs[0].name, *_size(imgs[0]), bad_obj))
    batch = SOURCES.get("voc")(ann, SourceOptions())
    assert _kinds(batch) == {"bad-xml", "missing-image", "bad-object"}


# --- JSONL --------------------------------------------------------------------------------

def test_jsonl(tmp_path: Path) -> None:
    imgs = _copy_images(tmp_path / "img", n=2)
    lines = [
        {"image_path": f"img/{imgs[0].name}", "group": "cam1", "bounding_box_annotations": [
            {"annotation_label": "fish", "x_min_normalized": 0.1, "y_min_normalized": 0.2,
             "x_max_normalized": 0.3, "y_max_normalized": 0.4}]},
        {"image_path": str(imgs[1]), "bounding_box_annotations": []},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    batch = SOURCES.get("jsonl")(path, SourceOptions())
    _, label, xyxyn = batch.boxes.arrays()
    assert label.tolist() == ["fish"]
    np.testing.assert_allclose(xyxyn[0], [0.1, 0.2, 0.3, 0.4])
    assert batch.records[0].group == "cam1"
    assert batch.records[0].path == imgs[0].resolve()


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("{not json", "bad-json"),
        ('{"bounding_box_annotations": []}', "no-image-path"),
        ('{"image_path": "gone.jpg"}', "missing-image"),
        ('{"image_path": "IMG", "bounding_box_annotations": [{"annotation_label": "fish"}]}',
         "bad-annotation"),
        ('{"image_path": "IMG", "bounding_box_annotations": {}}', "bad-annotations"),
        ('{"image_path": "IMG", "split": "holdout"}', "bad-split"),
    ],
)
def test_jsonl_bad_lines(tmp_path: Path, line: str, kind: str) -> None:
    img = _copy_images(tmp_path, n=1)[0]
    path = tmp_path / "m.jsonl"
    good = json.dumps({"image_path": img.name, "bounding_box_annotations": []})
    path.write_text(good + "\n" + line.replace("IMG", img.name) + "\n")
    batch = SOURCES.get("jsonl")(path, SourceOptions())
    assert [(i.kind, i.line) for i in batch.issues] == [(kind, 2)]


# --- class folders, image folders ---------------------------------------------------------

def test_classdir_full_image_boxes(tmp_path: Path) -> None:
    _copy_images(tmp_path / "train" / "shark", n=2)
    _copy_images(tmp_path / "val" / "fish", n=1)
    batch = SOURCES.get("classdir")(tmp_path, SourceOptions())
    _, label, xyxyn = batch.boxes.arrays()
    assert sorted(label.tolist()) == ["fish", "shark", "shark"]
    np.testing.assert_allclose(xyxyn, np.tile([0, 0, 1, 1], (3, 1)))
    assert sorted(r.split or "" for r in batch.records) == ["train", "train", "val"]
    assert batch.class_names == ["fish", "shark"]


def test_classdir_without_splits_and_loose_images(tmp_path: Path) -> None:
    _copy_images(tmp_path / "shark", n=1)
    _copy_images(tmp_path, n=1)
    batch = SOURCES.get("classdir")(tmp_path, SourceOptions())
    assert batch.records[0].split is None
    assert _kinds(batch) == {"image-outside-class-folder"}


def test_images_folder_is_pool(tmp_path: Path) -> None:
    _copy_images(tmp_path / "a" / "b", n=3)
    (tmp_path / "notes.txt").write_text("x")
    batch = SOURCES.get("images")(tmp_path, SourceOptions())
    assert len(batch.records) == 3
    assert {(r.split, r.labeled) for r in batch.records} == {("pool", False)}
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="found no images"):
        SOURCES.get("images")(tmp_path / "empty", SourceOptions())


# --- npz ----------------------------------------------------------------------------------

def _npz(path: Path, seed: int, **override: np.ndarray) -> None:
    rng = np.random.default_rng(seed)
    with Image.open(demo_images(n=seed + 1)[seed]) as im:
        rgb = np.asarray(im.convert("RGB").resize((64, 48)))
    arrays = {"rgb": rgb, "depth": rng.uniform(0.3, 2.0, (48, 64)).astype(np.float32),
              "proprio": rng.normal(size=6).astype(np.float32)}
    arrays["depth"][0, :8] = 0.0
    arrays.update(override)
    np.savez(path, **arrays)


def test_npz_frames_written_once(tmp_path: Path) -> None:
    caps = tmp_path / "caps"
    caps.mkdir()
    _npz(caps / "a.npz", 0)
    _npz(caps / "b.npz", 1)
    ws_root = tmp_path / "ws"
    batch = SOURCES.get("npz")(caps, SourceOptions(workspace_root=ws_root))
    assert len(batch.records) == 2 and batch.issues == []
    rec = batch.records[0]
    assert rec.path.is_file() and rec.path.parent.parent == ws_root / "media" / "npz"
    assert rec.created_media
    with Image.open(rec.path) as im:
        assert im.size == (64, 48)
    assert rec.fields["depth_valid_fraction"] == pytest.approx(1 - 8 / (48 * 64))
    assert len(rec.fields["proprio"]) == 6
    assert rec.fields["npz_path"].endswith("a.npz")
    again = SOURCES.get("npz")(caps, SourceOptions(workspace_root=ws_root))
    assert not again.records[0].created_media and again.records[0].path == rec.path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rgb": np.zeros((4, 4), np.uint8)}, "'rgb' must be"),
        ({"depth": np.zeros((3, 3), np.float32)}, "'depth' must be"),
        ({"proprio": np.zeros(5, np.float32)}, "'proprio' must be"),
    ],
)
def test_npz_bad_arrays(tmp_path: Path, override: dict, message: str) -> None:
    _npz(tmp_path / "x.npz", 0, **override)
    batch = SOURCES.get("npz")(tmp_path / "x.npz", SourceOptions(workspace_root=tmp_path / "ws"))
    assert batch.records == [] and message in batch.issues[0].message


def test_npz_missing_and_corrupt(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", rgb=np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04garbage")
    batch = SOURCES.get("npz")(tmp_path, SourceOptions(workspace_root=tmp_path / "ws"))
    assert _kinds(batch) == {"missing-array", "unreadable-npz"}
