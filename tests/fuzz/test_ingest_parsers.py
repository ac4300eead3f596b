"""Fuzz the seven ingest parsers: malformed and boundary inputs end in a ``WorkbenchError``
or in a batch whose problems are Issues, never in another exception.

Each case starts from a valid small dataset (real demo images), mutates one file or name
(truncated, emptied, garbled, a value replaced by a wrong type, NaN/inf, a huge number,
unicode or a path trick, a duplicated entry) and runs the parse layer plus what ingest runs
right after it on the batch: the geometry rule and the image probe. No mongod is needed.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import demo_images, make_yolo
from tests.fuzz.conftest import CASES
from tests.fuzz.strategies import (
    dump_json,
    mutated_json,
    mutated_json_file,
    mutated_text,
)
from workbench.errors import WorkbenchError
from workbench.ingestion.sources import parse_source
from workbench.media.probe import probe
from workbench.media.records import SourceOptions, check_boxes

#: File and folder names a file system accepts but a parser may not expect.
nasty_names = st.one_of(
    st.sampled_from(["..jpg", " .jpg", "\u202egpj.jpg", "\u05d3\u05d2.jpg", "𝔣.jpg", "a b.jpg",
                     "x.JPG", "-rf.jpg", "a" * 200 + ".jpg", "train", "val", "images", "labels"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
            min_size=1, max_size=40),
).filter(lambda n: n not in (".", "..") and len(n.encode()) < 240)


def _size(p: Path) -> tuple[int, int]:
    with Image.open(p) as im:
        return im.size


def contract(fmt: str, path: Path, options: SourceOptions | None = None) -> None:
    """Parse, apply the geometry rule and probe the images: no exception but WorkbenchError."""
    CASES[f"ingest:{fmt}"] += 1
    try:
        batch = parse_source(fmt, path, options or SourceOptions())
    except WorkbenchError as exc:
        assert str(exc).strip(), "a WorkbenchError must name the problem"
        return
    check_boxes(batch)
    probe([r.path for r in batch.records])
    for issue in batch.issues:
        assert issue.message and issue.file, issue


def _mutate_image(draw: st.DrawFn, image: Path) -> None:
    data = image.read_bytes()
    op = draw(st.sampled_from(["truncate", "empty", "garbage", "rename"]))
    if op == "truncate":
        image.write_bytes(data[:draw(st.integers(0, len(data) - 1))])
    elif op == "empty":
        image.write_bytes(b"")
    elif op == "garbage":
        image.write_bytes(draw(st.binary(max_size=300)))
    else:
        image.rename(image.with_name(draw(nasty_names)))


def _in_tmp(build: Callable[[Path], Path], mutate: Callable[[Path], None],
            fmt: str, options: Callable[[Path], SourceOptions] | None = None) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        path = build(root)
        mutate(root)
        contract(fmt, path, options(root) if options else None)


# --- YOLO ---------------------------------------------------------------------------------

@given(data=st.data())
def test_yolo(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        return make_yolo(root / "ds", {"train": demo_images(n=2), "val": demo_images("valid", 1)})

    def mutate(root: Path) -> None:
        ds = root / "ds"
        target = data.draw(st.sampled_from(["data.yaml", "label", "image"]))
        if target == "image":
            _mutate_image(data.draw, sorted((ds / "train" / "images").iterdir())[0])
            return
        f = ds / "data.yaml" if target == "data.yaml" else sorted(
            (ds / "train" / "labels").iterdir())[0]
        f.write_bytes(data.draw(mutated_text(f.read_text())))

    _in_tmp(build, mutate, "yolo")


# --- COCO ---------------------------------------------------------------------------------

def _coco_doc(imgs: list[Path]) -> dict:
    w, h = _size(imgs[0])
    return {
        "images": [{"id": i + 1, "file_name": p.name, "width": _size(p)[0],
                    "height": _size(p)[1]} for i, p in enumerate(imgs)],
        "categories": [{"id": 5, "name": "shark"}, {"id": 9, "name": "fish"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [10, 20, 30, 40], "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 5, "bbox": [0, 0, w, h], "area": w * h},
        ],
    }


def _copy(dst: Path, images: list[Path]) -> list[Path]:
    dst.mkdir(parents=True, exist_ok=True)
    for p in images:
        shutil.copy(p, dst / p.name)
    return [dst / p.name for p in images]


@given(data=st.data())
def test_coco(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        imgs = _copy(root / "imgs", demo_images(n=2))
        (root / "imgs" / "ann.json").write_text(json.dumps(_coco_doc(imgs)))
        return root / "imgs" / "ann.json"

    def mutate(root: Path) -> None:
        f = root / "imgs" / "ann.json"
        f.write_bytes(data.draw(mutated_json_file(json.loads(f.read_text()))))

    _in_tmp(build, mutate, "coco")


# --- VOC ----------------------------------------------------------------------------------

def _voc_xml(name: str, w: int, h: int) -> str:
    return (f"<annotation><folder>JPEGImages</folder><filename>{name}</filename><size>"
            f"<width>{w}</width><height>{h}</height><depth>3</depth></size><object><name>"
            "puffin</name><difficult>0</difficult><bndbox><xmin>10</xmin><ymin>20</ymin>"
            "<xmax>50</xmax><ymax>60</ymax></bndbox></object><object><name>fish</name>"
            "<bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40.25</ymax></bndbox>"
            "</object></annotation>")


@given(data=st.data())
def test_voc(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        imgs = _copy(root / "JPEGImages", demo_images(n=2))
        (root / "Annotations").mkdir()
        for p in imgs:
            (root / "Annotations" / f"{p.stem}.xml").write_text(_voc_xml(p.name, *_size(p)))
        return root / "Annotations"

    def mutate(root: Path) -> None:
        if data.draw(st.integers(0, 4)) == 0:
            _mutate_image(data.draw, sorted((root / "JPEGImages").iterdir())[0])
            return
        f = sorted((root / "Annotations").iterdir())[0]
        f.write_bytes(data.draw(mutated_text(f.read_text())))

    _in_tmp(build, mutate, "voc")


# --- JSONL --------------------------------------------------------------------------------

@given(data=st.data())
def test_jsonl(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        imgs = _copy(root / "imgs", demo_images(n=2))
        lines = [{"image_path": f"imgs/{p.name}", "split": "train", "group": "g1",
                  "bounding_box_annotations": [
                      {"annotation_label": "fish", "x_min_normalized": 0.1,
                       "y_min_normalized": 0.2, "x_max_normalized": 0.5,
                       "y_max_normalized": 0.6}]} for p in imgs]
        (root / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
        return root / "a.jsonl"

    def mutate(root: Path) -> None:
        f = root / "a.jsonl"
        lines = f.read_text().splitlines()
        k = data.draw(st.integers(0, len(lines) - 1))
        if data.draw(st.booleans()):
            new = dump_json(data.draw(mutated_json(json.loads(lines[k])))).decode()
            lines[k] = new
            f.write_text("\n".join(lines) + "\n")
        else:
            f.write_bytes(data.draw(mutated_text(f.read_text())))

    _in_tmp(build, mutate, "jsonl",
            lambda root: SourceOptions(unlabeled=data.draw(st.booleans())))


# --- class folders and image folders ------------------------------------------------------

@given(data=st.data())
def test_classdir(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        _copy(root / "cd" / "fish", demo_images(n=2))
        _copy(root / "cd" / "shark", demo_images("valid", 1))
        return root / "cd"

    def mutate(root: Path) -> None:
        cd = root / "cd"
        op = data.draw(st.sampled_from(["image", "class-name", "loose", "empty-class",
                                        "split-layout"]))
        if op == "image":
            _mutate_image(data.draw, sorted((cd / "fish").iterdir())[0])
        elif op == "class-name":
            (cd / "shark").rename(cd / data.draw(nasty_names))
        elif op == "loose":
            (cd / data.draw(nasty_names)).write_bytes(data.draw(st.binary(max_size=50)))
        elif op == "empty-class":
            shutil.rmtree(cd / "fish")
            shutil.rmtree(cd / "shark")
            (cd / "fish").mkdir()
        else:
            (cd / "train").mkdir()
            (cd / "fish").rename(cd / "train" / "fish")

    _in_tmp(build, mutate, "classdir")


@given(data=st.data())
def test_images(data: st.DataObject) -> None:
    def build(root: Path) -> Path:
        _copy(root / "pool" / "sub", demo_images(n=2))
        return root / "pool"

    def mutate(root: Path) -> None:
        op = data.draw(st.sampled_from(["image", "image", "new-file", "empty-folder"]))
        sub = root / "pool" / "sub"
        if op == "image":
            _mutate_image(data.draw, sorted(sub.iterdir())[data.draw(st.integers(0, 1))])
        elif op == "new-file":
            name = data.draw(nasty_names) + data.draw(st.sampled_from([".jpg", ".png", ""]))
            (sub / name).write_bytes(data.draw(st.binary(max_size=100)))
        else:
            shutil.rmtree(sub)

    _in_tmp(build, mutate, "images")


# --- npz captures -------------------------------------------------------------------------

_ARRAYS = {
    "rgb": st.sampled_from([np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8),
                            np.zeros((4, 5, 3), np.float32), np.zeros((0, 0, 3), np.uint8),
                            np.zeros((4, 5, 4), np.uint8), np.array("text")]),
    "depth": st.sampled_from([np.full((4, 5), np.nan, np.float32),
                              np.full((4, 5), np.inf, np.float32),
                              np.full((4, 5), -1, np.float32), np.zeros((5, 4), np.float32),
                              np.full((4, 5), 1e308, np.float64), np.zeros((4, 5), np.int64),
                              np.zeros((0,), np.float32)]),
    "proprio": st.sampled_from([np.full(6, np.nan, np.float32), np.zeros(5, np.float32),
                                np.zeros(6, np.int32), np.zeros((6, 1), np.float32),
                                np.full(6, 1e308, np.float64), np.array(["a"] * 6)]),
}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@given(data=st.data())
def test_npz(data: st.DataObject) -> None:
    def valid() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(0)
        return {"rgb": rng.integers(0, 255, (4, 5, 3), dtype=np.uint8),
                "depth": rng.random((4, 5), dtype=np.float32),
                "proprio": np.arange(6, dtype=np.float32)}

    def build(root: Path) -> Path:
        (root / "caps").mkdir()
        (root / "ws").mkdir()
        for k in range(2):
            (root / "caps" / f"c{k}.npz").write_bytes(_npz_bytes(valid()))
        return root / "caps"

    def mutate(root: Path) -> None:
        f = root / "caps" / "c0.npz"
        op = data.draw(st.sampled_from(["array", "array", "drop", "bytes"]))
        arrays = valid()
        if op == "array":
            key = data.draw(st.sampled_from(sorted(_ARRAYS)))
            arrays[key] = data.draw(_ARRAYS[key])
            f.write_bytes(_npz_bytes(arrays))
        elif op == "drop":
            del arrays[data.draw(st.sampled_from(sorted(arrays)))]
            f.write_bytes(_npz_bytes(arrays))
        else:
            raw = f.read_bytes()
            cut = data.draw(st.integers(0, len(raw) - 1))
            f.write_bytes(data.draw(st.sampled_from([raw[:cut], b"", raw[:cut] + b"\x00" * 9])))

    _in_tmp(build, mutate, "npz", lambda root: SourceOptions(workspace_root=root / "ws"))
