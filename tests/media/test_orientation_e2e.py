"""All eight EXIF orientations end to end, in the displayed frame everywhere: ingest with labels
-> package (manifest sizes, thumbnails, crops) -> the same boxes imported back change nothing
-> training export (what Ultralytics reads) -> prediction's letterbox."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image, ImageOps

from tests.annotation import writers
from tests.conftest import DEMO, demo_images
from tests.media.test_orientation import oriented_jpeg
from workbench.annotation.api import Manifest, PackageConfig, export_package
from workbench.annotation.importer import import_annotations
from workbench.curation.api import split
from workbench.errors import InputReportError
from workbench.ingestion.api import IngestError, ingest
from workbench.store.view_data import labeled_boxes

pytestmark = pytest.mark.integration


def _rotated_yolo(root: Path, src: Path) -> dict[str, tuple[Image.Image, str]]:
    """A YOLO dataset of ``src`` stored in all eight orientations with its own labels."""
    names = yaml.safe_load((DEMO / "data.yaml").read_text())["names"]
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    with Image.open(src) as im:
        original = im.convert("RGB")
    label_text = (src.parent.parent / "labels" / f"{src.stem}.txt").read_text()
    out = {}
    for k in range(1, 9):
        path = oriented_jpeg(original, k, root / "train" / "images" / f"o{k}.jpg")
        (root / "train" / "labels" / f"o{k}.txt").write_text(label_text)
        out[str(path.resolve())] = (original, label_text)
    (root / "data.yaml").write_text(f"path: .\ntrain: train/images\nnames: {names}\n")
    return out


def _by_path(boxes: dict[str, Any]) -> dict[str, list[tuple[str, list[float]]]]:
    got: dict[str, list[tuple[str, list[float]]]] = {}
    for n, path in enumerate(boxes["filepath"]):
        rows = np.flatnonzero(np.asarray(boxes["sample_index"]) == n)
        got[path] = sorted((str(boxes["label"][r]), boxes["xywhn"][r].tolist()) for r in rows)
    return got


def _close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


def test_eight_orientations_end_to_end(workspace: Any, tmp_path: Path) -> None:
    ws = workspace
    src = next(p for p in demo_images("train", 20)
               if Image.open(p).size[0] != Image.open(p).size[1])  # not square
    files = _rotated_yolo(tmp_path / "ds", src)
    original = next(iter(files.values()))[0]
    W, H = original.size

    # ingest: the stored size is the displayed one
    ingest(ws, tmp_path / "ds", "yolo")
    stored = _by_path(labeled_boxes(ws, "all"))
    assert sorted(stored) == sorted(files)
    first = next(iter(stored.values()))
    assert first and all(v == first for v in stored.values())  # same boxes for every file
    sizes = {d["filepath"]: (d["metadata"]["width"], d["metadata"]["height"])
             for d in ws.samples.find({}, {"filepath": 1, "metadata": 1})}
    assert set(sizes.values()) == {(W, H)}
    split(ws, ratios=(1.0, 0.0, 0.0))

    # package: manifest sizes, thumbnails and guideline crops as displayed
    pkg = tmp_path / "pkg.zip"
    export_package(ws, PackageConfig(out=pkg, view="all"))
    with zipfile.ZipFile(pkg) as zf:
        manifest = Manifest.from_dict(json.loads(zf.read("manifest.json")), "test")
        assert {(im.width, im.height) for im in manifest.images} == {(W, H)}
        reference = original.copy()
        reference.thumbnail((256, 256))
        for im in manifest.images:
            thumb = Image.open(zf.open(f"thumbnails/{im.sample_id}.jpg")).convert("RGB")
            assert thumb.size == reference.size
            assert _close(thumb, reference) < 8
            with Image.open(zf.open(f"images/{im.file_name}")) as shown:  # as a browser shows it
                assert ImageOps.exif_transpose(shown).size == (W, H)
        crops: dict[str, list[Image.Image]] = {}
        for n in zf.namelist():
            if n.startswith("guidelines/"):
                crops.setdefault(n.rsplit("-", 1)[0], []).append(Image.open(zf.open(n)))
        assert any(len(c) > 1 for c in crops.values())
        for same in crops.values():  # the examples of a class come from differently turned
            for crop in same[1:]:    # files of one photo: the same picture each time
                assert crop.size == same[0].size and _close(crop, same[0]) < 8

    # import the same boxes back, in pixels of the manifest's sizes: nothing moves
    paths = {str(d["_id"]): d["filepath"] for d in ws.samples.find({}, {"filepath": 1})}
    truth: writers.Truth = {
        im.file_name: (im.width, im.height,
                       [(lab, [b[0], b[1], b[2], b[3]]) for lab, b in stored[paths[im.sample_id]]])
        for im in manifest.images}
    sensor = {name: (h, w, boxes) for name, (w, h, boxes) in truth.items()}
    transposed = [n for n, (w, h, _) in truth.items() if w != h]
    with pytest.raises(InputReportError) as refused:  # drawn on unrotated pixels: refused
        import_annotations(ws, writers.coco(sensor, tmp_path / "sensor.json"), package=pkg)
    assert len(transposed) == 8 and "resized" in str(refused.value.result.to_dict())
    assert _by_path(labeled_boxes(ws, "all")) == stored
    result = import_annotations(ws, writers.coco(truth, tmp_path / "back.json"), package=pkg)
    totals = result.totals
    assert not result.issues
    assert totals.get("unchanged") == 8 * len(first)
    assert (totals.get("added", 0), totals.get("removed", 0), totals.get("moved", 0),
            totals.get("relabeled", 0)) == (0, 0, 0, 0)
    after = _by_path(labeled_boxes(ws, "all"))
    for path in files:
        assert [lab for lab, _ in after[path]] == [lab for lab, _ in stored[path]]
        np.testing.assert_allclose([b for _, b in after[path]], [b for _, b in stored[path]],
                                   atol=1e-9, rtol=0)

    # training export: labels are the stored boxes, and Ultralytics reads displayed pixels
    from ultralytics.data.utils import verify_image_label
    from ultralytics.utils.patches import imread

    from workbench.training.dataset import export_yolo

    data = export_yolo(ws, "all", "all", ws.classes)
    reference_bgr = np.asarray(original)[:, :, ::-1]
    for image in sorted((data.root / "images" / "train").iterdir()):
        label = data.root / "labels" / "train" / f"{image.stem}.txt"
        pixels = imread(str(image))
        assert pixels is not None and pixels.shape[:2] == (H, W)
        assert _close(pixels, reference_bgr) < 3
        checked = verify_image_label((str(image), str(label), "", False, len(ws.classes), 0, 0,
                                      False))
        assert tuple(checked[2]) == (H, W)
        rows = np.loadtxt(label, ndmin=2)
        want = np.array(sorted((ws.classes.index(lab), b[0] + b[2] / 2, b[1] + b[3] / 2, b[2],
                                b[3]) for lab, b in stored[str(image.resolve())]))
        np.testing.assert_allclose(np.array(sorted(map(tuple, rows))), want, atol=1e-7)

    # prediction / export calibration letterbox: displayed pixels, displayed size
    from workbench.prediction.api import load_letterboxed

    ref_chw, ref_box, _, _ = load_letterboxed(str(src), 320)
    for path in files:
        chw, box, w, h = load_letterboxed(path, 320)
        assert (w, h) == (W, H) and box == ref_box
        assert float(np.abs(chw - ref_chw).mean()) < 3 / 255


def test_sensor_sized_annotations_are_refused_with_a_hint(workspace: Any, tmp_path: Path) -> None:
    """COCO drawn on the unrotated pixels (a tool ignoring EXIF) declares the stored size."""
    src = demo_images()[0]
    with Image.open(src) as im:
        original = im.convert("RGB")
    images = tmp_path / "coco" / "images"
    images.mkdir(parents=True)
    oriented_jpeg(original, 6, images / "o6.jpg")
    W, H = original.size
    coco = {"images": [{"id": 1, "file_name": "o6.jpg", "width": H, "height": W}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 20, 20]}],
            "categories": [{"id": 1, "name": "fish"}]}
    (tmp_path / "coco" / "ann.json").write_text(json.dumps(coco))
    with pytest.raises(IngestError) as err:
        ingest(workspace, tmp_path / "coco" / "ann.json", "coco", images_dir=images,
               add_classes=True)
    message = str(err.value) + " ".join(i.message for i in err.value.result.issues)
    assert f"the image is {W}x{H}" in message and "EXIF orientation 6" in message
    assert workspace.samples.count_documents({}) == 0
