"""The Hugging Face source on real datasets built with ``datasets`` from the demo images.

Every layout is checked against the YOLO source on the same images and label files: the
boxes must agree to 1e-6 (parsed, and as stored by a real ingest on the real mongod).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CLASSES, DEMO, REPO, cli_env, demo_images, make_yolo
from workbench.errors import SourceError
from workbench.ingestion.config import IngestConfig
from workbench.ingestion.ingest import run_ingest
from workbench.ingestion.sources import SOURCES, hf
from workbench.ingestion.sources import yolo as yolo_source
from workbench.media.probe import probe_file
from workbench.media.records import SourceOptions

datasets = pytest.importorskip("datasets")

OPTIONS = ("limit", "class_map", "split", "revision", "image_column", "objects_column",
           "bbox_format")
TRAIN = demo_images("train", 4)
VALID = sorted((DEMO / "valid" / "images").glob("*.jpg"))[:2]


def _labels(image: Path) -> tuple[np.ndarray, list[int]]:
    """The demo YOLO label file of ``image``: ``(K, 4)`` cx, cy, w, h relative; class ids."""
    rows = np.loadtxt(image.parent.parent / "labels" / f"{image.stem}.txt", ndmin=2)
    rows = rows.reshape(-1, 5)
    return rows[:, 1:], rows[:, 0].astype(int).tolist()


def _boxes(image: Path, fmt: str) -> list[list[float]]:
    """The image's boxes written in ``fmt``."""
    c, _ = _labels(image)
    info = probe_file(image)
    size = np.array([info.width, info.height] * 2, dtype=np.float64)
    xyxyn = np.c_[c[:, :2] - c[:, 2:] / 2, c[:, :2] + c[:, 2:] / 2]
    out = {"yolo": c, "albumentations": xyxyn, "voc": xyxyn * size,
           "coco": np.c_[xyxyn[:, :2], c[:, 2:]] * size}[fmt]
    return out.tolist()  # type: ignore[no-any-return]


def _features(image: str = "image", objects: str = "objects", bbox: str = "bbox",
              category: str = "category", names: bool = True) -> Any:
    from datasets import ClassLabel, Features, Image, List, Value

    cat = ClassLabel(names=CLASSES) if names else Value("int64")
    return Features({image: Image(), objects: List({bbox: List(Value("float64"), length=4),
                                                    category: cat}),
                     "note": Value("string")})


def _rows(files: list[Path], fmt: str = "coco", image: str = "image", objects: str = "objects",
          bbox: str = "bbox", category: str = "category") -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {image: [], objects: [], "note": []}
    for f in files:
        rows[image].append({"bytes": f.read_bytes(), "path": f.name})
        rows[objects].append([{bbox: b, category: c}
                              for b, c in zip(_boxes(f, fmt), _labels(f)[1], strict=True)])
        rows["note"].append(f.stem)
    return rows


def _dataset_dict(fmt: str = "coco", **names: Any) -> Any:
    feats = _features(**names)
    cols = {k: v for k, v in names.items() if k != "names"}
    return datasets.DatasetDict(
        train=datasets.Dataset.from_dict(_rows(TRAIN, fmt, **cols), features=feats),
        validation=datasets.Dataset.from_dict(_rows(VALID, fmt, **cols), features=feats))


def _parse(tmp_path: Path, spec: Path | str, **params: Any) -> Any:
    return hf.parse(Path(spec), SourceOptions(workspace_root=tmp_path / "ws", spec=str(spec),
                                              params=params))


def _by_hash(batch: Any) -> dict[str, list[tuple[str, tuple[float, ...]]]]:
    """Per image (sha256): sorted (label, xyxyn) boxes."""
    image, label, xyxyn = batch.boxes.arrays()
    out: dict[str, list[tuple[str, tuple[float, ...]]]] = {}
    for i, rec in enumerate(batch.records):
        sha = probe_file(rec.path).sha256
        out[sha] = sorted((str(lab), tuple(b)) for lab, b in
                          zip(label[image == i], xyxyn[image == i], strict=True))
    return out


def _assert_same_boxes(got: dict[str, list[Any]], want: dict[str, list[Any]]) -> None:
    assert got.keys() == want.keys()
    for sha, boxes in want.items():
        assert [lab for lab, _ in got[sha]] == [lab for lab, _ in boxes]
        np.testing.assert_allclose([b for _, b in got[sha]], [b for _, b in boxes], atol=1e-6)


@pytest.fixture(scope="module")
def yolo_boxes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    root = make_yolo(tmp_path_factory.mktemp("yolo"), {"train": TRAIN, "val": VALID})
    return _by_hash(yolo_source.parse(root, SourceOptions()))


@pytest.fixture
def hf_format() -> Iterator[None]:
    """``hf`` in SOURCES for one test (unless the package registers it already)."""
    if "hf" in SOURCES:
        yield
        return
    SOURCES.register("hf", hf.parse, help="hf:REPO_OR_PATH, a Hugging Face dataset",
                     scheme=True, options=OPTIONS)
    yield
    del SOURCES._entries["hf"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``save_to_disk`` DatasetDict (train, validation), coco boxes, ClassLabel names."""
    path = tmp_path_factory.mktemp("hf") / "dd"
    _dataset_dict().save_to_disk(str(path))
    return path


def test_save_to_disk_dataset_dict_matches_yolo(tmp_path: Path, saved: Path,
                                                yolo_boxes: dict[str, list[Any]]) -> None:
    train = _parse(tmp_path, saved)
    val = _parse(tmp_path, saved, split="validation")
    assert [r.split for r in train.records] == ["train"] * 4
    assert [r.split for r in val.records] == ["val"] * 2 and "'validation'" in val.split_origin
    assert train.class_names == CLASSES and train.issues == [] and val.issues == []
    assert [r.source_id for r in val.records] == ["validation/0", "validation/1"]
    assert all(r.created_media and r.path.parent.parent.name == "hf" for r in train.records)
    _assert_same_boxes({**_by_hash(train), **_by_hash(val)}, yolo_boxes)
    again = _parse(tmp_path, saved)  # the media exist now: not written (nor removed) again
    assert [r.path for r in again.records] == [r.path for r in train.records]
    assert not any(r.created_media for r in again.records)


@pytest.mark.parametrize("layout", ["parquet-file", "parquet-folder", "imagefolder", "plain"])
def test_other_local_layouts_match_yolo(tmp_path: Path, layout: str,
                                        yolo_boxes: dict[str, list[Any]]) -> None:
    dd = _dataset_dict()
    root = tmp_path / "data"
    if layout == "parquet-file":
        dd["train"].to_parquet(str(root / "train.parquet"))
        spec, splits = root / "train.parquet", ["train"]
    elif layout == "parquet-folder":
        for name in ("train", "validation"):
            dd[name].to_parquet(str(root / "data" / f"{name}-00000-of-00001.parquet"))
        spec, splits = root, ["train", "validation"]
    elif layout == "plain":  # a single Dataset saved: its one split
        dd["train"].save_to_disk(str(root))
        spec, splits = root, ["train"]
    else:  # images beside a metadata.jsonl, categories as names, boxes top-level lists
        for name, files in (("train", TRAIN), ("validation", VALID)):
            (root / name).mkdir(parents=True)
            lines = []
            for f in files:
                shutil.copy(f, root / name / f.name)
                lines.append(json.dumps({"file_name": f.name, "bbox": _boxes(f, "coco"),
                                         "category": [CLASSES[c] for c in _labels(f)[1]]}))
            (root / name / "metadata.jsonl").write_text("\n".join(lines) + "\n")
        spec, splits = root, ["train", "validation"]
    got: dict[str, list[Any]] = {}
    for split in splits:
        batch = _parse(tmp_path, spec, split=split)
        assert batch.issues == []
        assert {r.split for r in batch.records} == {"train" if split == "train" else "val"}
        if layout == "imagefolder":  # local files are used where they are
            assert all(not r.created_media and r.path.parent == root / split
                       for r in batch.records)
        got.update(_by_hash(batch))
    _assert_same_boxes(got, {k: v for k, v in yolo_boxes.items() if k in got})
    assert len(got) == (6 if len(splits) == 2 else 4)


@pytest.mark.parametrize("fmt", ["voc", "yolo", "albumentations"])
def test_bbox_formats(tmp_path: Path, fmt: str, yolo_boxes: dict[str, list[Any]]) -> None:
    ds = datasets.Dataset.from_dict(_rows(TRAIN, fmt), features=_features())
    ds.save_to_disk(str(tmp_path / "d"))
    batch = _parse(tmp_path, tmp_path / "d", bbox_format=fmt)
    got = _by_hash(batch)
    _assert_same_boxes(got, {k: v for k, v in yolo_boxes.items() if k in got})
    with pytest.raises(SourceError, match="--bbox-format 'xywh' is not one of coco, voc"):
        _parse(tmp_path, tmp_path / "d", bbox_format="xywh")


def test_unusual_column_names_need_the_flags(tmp_path: Path) -> None:
    from datasets import Image

    names: dict[str, Any] = {"image": "picture", "objects": "annotations", "bbox": "bboxes",
             "category": "labels"}
    ds = datasets.Dataset.from_dict(_rows(TRAIN[:2], **names), features=_features(**names))
    ds = ds.add_column("thumb", [{"bytes": f.read_bytes(), "path": f.name} for f in TRAIN[:2]],
                       feature=Image())
    ds = ds.add_column("annotations_copy", ds["annotations"], feature=ds.features["annotations"])
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError, match=r"several image columns; .*--image-column") as err:
        _parse(tmp_path, tmp_path / "d")
    assert "picture (Image)" in str(err.value) and "thumb (Image)" in str(err.value)
    with pytest.raises(SourceError, match=r"several columns of objects \(annotations, "
                                          r"annotations_copy\); .*--objects-column"):
        _parse(tmp_path, tmp_path / "d", image_column="picture")
    batch = _parse(tmp_path, tmp_path / "d", image_column="picture",
                   objects_column="annotations")
    assert len(batch.records) == 2 and len(batch.boxes) == sum(len(_labels(f)[1])
                                                               for f in TRAIN[:2])
    with pytest.raises(SourceError, match="--image-column 'note' is not a column with an Image"):
        _parse(tmp_path, tmp_path / "d", image_column="note")


def test_unknown_layout_names_columns_and_flags(tmp_path: Path) -> None:
    from datasets import Features, Image, Value

    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": TRAIN[0].read_bytes(), "path": None}], "boxes": ["1 2 3 4"],
         "score": [0.5]}, features=Features({"image": Image(), "boxes": Value("string"),
                                              "score": Value("float32")}))
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError) as err:
        _parse(tmp_path, tmp_path / "d")
    text = str(err.value)
    assert "no column of objects with a bbox and a category key" in text
    assert "image (Image); boxes (Value(string)); score (Value(float32))" in text
    for flag in ("--objects-column", "--bbox-format", "--unlabeled"):
        assert flag in text
    batch = hf.parse(tmp_path / "d", SourceOptions(unlabeled=True, workspace_root=tmp_path,
                                                   spec=str(tmp_path / "d")))
    assert [(r.labeled, r.split) for r in batch.records] == [(False, "pool")]


def test_missing_split_lists_the_splits(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(SourceError, match="no split 'test'; the splits found are train, "
                                          "validation; choose one with --split"):
        _parse(tmp_path, saved, split="test")


def test_limit_and_class_map(tmp_path: Path, saved: Path) -> None:
    (tmp_path / "map.yaml").write_text("fish: fishes\npenguin: bird\n")
    batch = _parse(tmp_path, saved, limit=3, class_map=str(tmp_path / "map.yaml"))
    assert len(batch.records) == 3
    assert batch.class_names[:3] == ["fishes", "jellyfish", "bird"]
    want = [CLASSES[c] for f in TRAIN[:3] for c in _labels(f)[1]]
    want = [{"fish": "fishes", "penguin": "bird"}.get(n, n) for n in want]
    assert sorted(batch.boxes.label) == sorted(want)


def test_integer_categories_need_a_class_map(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_dict(_rows(TRAIN[:2]), features=_features(names=False))
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError, match=r"integer ids without class names.*--class-map"):
        _parse(tmp_path, tmp_path / "d")
    (tmp_path / "map.yaml").write_text("".join(f"{i}: {n}\n" for i, n in enumerate(CLASSES)))
    batch = _parse(tmp_path, tmp_path / "d", class_map=str(tmp_path / "map.yaml"))
    assert sorted(batch.boxes.label) == sorted(CLASSES[c] for f in TRAIN[:2]
                                               for c in _labels(f)[1])


def test_bad_rows_are_reported(tmp_path: Path) -> None:
    rows = _rows(TRAIN[:3])
    rows["image"][1] = None
    rows["objects"][2] = [{"bbox": [10.0, 10.0, -5.0, 20.0], "category": 0}]
    datasets.Dataset.from_dict(rows, features=_features()).save_to_disk(str(tmp_path / "d"))
    batch = _parse(tmp_path, tmp_path / "d")
    assert len(batch.records) == 2 and batch.dropped == 1
    assert [(i.kind, i.file) for i in batch.issues] == [("no-image", f"{tmp_path / 'd'}[train]"
                                                                     " row 1")]
    from workbench.media.records import check_boxes

    keep, _ = check_boxes(batch)
    assert not keep[-1] and batch.issues[-1].kind == "box-negative-size"
    assert batch.issues[-1].file.endswith("row 2")


def test_not_a_dataset_and_hub_offline(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="not a Hugging Face dataset; expected a save_to_disk"):
        _parse(tmp_path, tmp_path / "empty")
    with pytest.raises(SourceError, match="no such file or folder"):
        _parse(tmp_path, tmp_path / "missing")
    with pytest.raises(SourceError, match=r"Hub.*save_to_disk\(DIR\).*workbench ingest hf:DIR"):
        _parse(tmp_path, f"workbench-test/no-such-{uuid.uuid4().hex[:8]}", revision="main")


@pytest.mark.slow
@pytest.mark.usefixtures("hf_format")
def test_ingest_stores_the_yolo_boxes(workspace, mongo_uri: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      saved: Path) -> None:
    from workbench.store.workspace import init_workspace

    ref = init_workspace(tmp_path / "ref", name=f"t-{uuid.uuid4().hex[:10]}",
                         database_uri=mongo_uri)
    try:
        root = make_yolo(tmp_path / "yolo", {"train": TRAIN, "val": VALID})
        run_ingest(ref, IngestConfig(path=root, format="yolo"))
        for split in ("train", "validation"):
            result = run_ingest(workspace, IngestConfig(path=f"hf:{saved}", split=split))
            assert result.errors == [] and result.format == "hf"
        assert result.source_splits == {"val": 2} and "validation" in result.split_origin
        got, want = _stored(workspace), _stored(ref)
        assert workspace.classes == CLASSES
        _assert_same_boxes(got, want)
        media = list((workspace.root / "media" / "hf").rglob("*.jpg"))
        assert len(media) == 6
    finally:
        ref.dataset.delete()


def _stored(ws: Any) -> dict[str, list[Any]]:
    hashes, labels, boxes, splits = ws.dataset.values(
        ["content_hash", "ground_truth.detections.label",
         "ground_truth.detections.bounding_box", "split"])
    return {f"{h}/{s}": sorted((lab, tuple(b)) for lab, b in zip(ls, bs, strict=True))
            for h, ls, bs, s in zip(hashes, labels, boxes, splits, strict=True)}


_BOOT = ("import sys\nfrom workbench.ingestion.sources import SOURCES, hf\n"
         "if 'hf' not in SOURCES:\n"
         f"    SOURCES.register('hf', hf.parse, help='', scheme=True, options={OPTIONS!r})\n"
         "from workbench.cli.main import main\nsys.argv[0] = 'workbench'\nmain()\n")


@pytest.mark.slow
def test_cli_json(workspace, saved: Path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-c", _BOOT, "ingest", f"hf:{saved}", "-w", str(workspace.root),
         "--json", "--limit", "3"], capture_output=True, text=True, env=cli_env(), cwd=REPO,
        timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["added"], out["format"], out["source_splits"]) == (3, "hf", {"train": 3})
    bad = subprocess.run(
        [sys.executable, "-c", _BOOT, "ingest", "hf:nobody/nothing", "-w", str(workspace.root)],
        capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=300)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "Hub" in bad.stderr and "save_to_disk" in bad.stderr
