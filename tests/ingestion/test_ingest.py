"""Ingest into a real mongod: counts against the label files, no duplicates, atomic failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CLASSES, DEMO, demo_images, make_yolo
from workbench.ingestion.ingest import IngestError, TooManySkippedError, ingest
from workbench.store import query, runs

pytestmark = pytest.mark.integration


def _label_lines() -> dict[str, int]:
    """Boxes per split in the demo label files, without the two zero-size boxes."""
    out = {}
    for split, name in (("train", "train"), ("valid", "val"), ("test", "test")):
        n = 0
        for p in (DEMO / split / "labels").glob("*.txt"):
            for line in p.read_text().splitlines():
                f = line.split()
                if f and float(f[3]) > 0 and float(f[4]) > 0:
                    n += 1
        out[name] = n
    return out


def _snapshot(ws) -> list:  # type: ignore[no-untyped-def]
    return sorted((d["filepath"], json.dumps(d.get("ground_truth"), default=str))
                  for d in ws.samples.find({}, {"filepath": 1, "ground_truth": 1}))


def test_demo_dataset_counts(workspace) -> None:  # type: ignore[no-untyped-def]
    result = ingest(workspace, DEMO, "yolo", source="aquarium-mini")
    assert result.added == 638 and result.errors == []
    expected = _label_lines()
    assert result.boxes_added == sum(expected.values()) == 4815
    assert workspace.classes == CLASSES
    counts = query.grouped_counts(workspace, "split")
    assert {k: v["samples"] for k, v in counts.items()} == {"test": 63, "train": 448, "val": 127}
    assert {k: v["boxes"] for k, v in counts.items()} == expected
    ds = workspace.dataset
    assert len(ds) == 638
    assert ds.count_sample_tags() == {"train": 448, "val": 127, "test": 63, "labeled": 638}
    sample = ds.match({"source_id": {"$regex": "IMG_3133"}}).first()
    assert sample.ground_truth.detections == []  # the empty label file: a negative
    assert sample.metadata.width <= 416 and sample.status == "labeled"
    # Boxes read back through FiftyOne equal the label file (YOLO centre -> top-left).
    img = sorted((DEMO / "train" / "images").glob("*.jpg"))[0]
    s = ds.match({"filepath": str(img.resolve())}).first()
    rows = np.loadtxt(DEMO / "train" / "labels" / f"{img.stem}.txt", ndmin=2)
    got = np.array([d.bounding_box for d in s.ground_truth.detections])
    want = np.c_[rows[:, 1] - rows[:, 3] / 2, rows[:, 2] - rows[:, 4] / 2, rows[:, 3:5]]
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert [d.label for d in s.ground_truth.detections] == [CLASSES[int(c)] for c in rows[:, 0]]
    assert runs.list_runs(workspace, "ingest")[0]["outputs"]["added"] == 638


def test_reingest_adds_nothing_and_duplicates_stored_once(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    imgs = demo_images(n=4)
    root = make_yolo(tmp_path / "y", {"train": imgs})
    first = ingest(workspace, root, "yolo")
    assert first.added == 4
    again = ingest(workspace, root, "yolo")
    assert (again.added, again.already_present) == (0, 4)
    dup = tmp_path / "dups"
    dup.mkdir()
    new = demo_images("valid", n=1)[0]
    shutil.copy(new, dup / "a.jpg")
    shutil.copy(new, dup / "b.jpg")
    r = ingest(workspace, dup, "images")
    assert (r.added, r.duplicates_in_input) == (1, 1)
    assert [i.kind for i in r.warnings] == ["duplicate-in-input"]
    assert len(workspace.dataset) == 5


def test_failed_ingest_leaves_store_unchanged(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(workspace, make_yolo(tmp_path / "ok", {"train": demo_images(n=3)}), "yolo")
    before = _snapshot(workspace)
    runs_before = len(runs.list_runs(workspace))
    imgs = demo_images("valid", n=4)
    root = make_yolo(tmp_path / "bad", {"val": imgs},
                     labels={imgs[0].stem: "0 0.5 0.5 0.1\n", imgs[1].stem: "9 0.5 0.5 .1 .1\n",
                             imgs[2].stem: "0 1.5 0.5 0.2 0.2\n"})
    trunc = root / "val" / "images" / imgs[3].name
    trunc.write_bytes(trunc.read_bytes()[:2000])
    with pytest.raises(IngestError) as info:
        ingest(workspace, root, "yolo")
    kinds = {i.kind for i in info.value.result.errors}
    assert kinds == {"bad-field-count", "class-id-out-of-range", "box-outside-image",
                     "unreadable-image"}
    assert _snapshot(workspace) == before
    assert len(runs.list_runs(workspace)) == runs_before
    # --skip-bad would ingest the rest (nothing here): skipping every image fails instead,
    # reporting the four bad images and writing nothing.
    with pytest.raises(TooManySkippedError) as skipped:
        ingest(workspace, root, "yolo", skip_bad=True)
    r = skipped.value.result
    assert (r.added, r.skipped_bad) == (0, 4)
    assert _snapshot(workspace) == before


def test_skip_bad_keeps_good_images(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    imgs = demo_images(n=3)
    root = make_yolo(tmp_path / "y", {"train": imgs}, labels={imgs[0].stem: "0 0.5\n"})
    r = ingest(workspace, root, "yolo", skip_bad=True)
    assert (r.added, r.skipped_bad) == (2, 1)
    assert len(workspace.dataset) == 2


def test_clipped_boxes_are_kept_and_reported(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    img = demo_images(n=1)[0]
    root = make_yolo(tmp_path / "y", {"train": [img]}, labels={img.stem: "0 0.05 0.5 0.108 0.2\n"})
    r = ingest(workspace, root, "yolo")
    assert [i.kind for i in r.warnings] == ["box-clipped"]
    det = workspace.dataset.first().ground_truth.detections[0]
    assert det.bounding_box[0] == 0.0 and det.bounding_box[2] == pytest.approx(0.104)


def test_unknown_class_names_reported_or_added(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    workspace.add_classes(["shark", "fish"])
    imgs = demo_images(n=2)
    root = make_yolo(tmp_path / "y", {"train": imgs}, names=["fish", "crab"],
                     labels={imgs[0].stem: "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.2 0.2\n",
                             imgs[1].stem: "0 0.2 0.2 0.1 0.1\n"})
    with pytest.raises(IngestError) as info:
        ingest(workspace, root, "yolo")
    msg = next(i for i in info.value.result.errors if i.kind == "unknown-class").message
    assert "'crab' (1 boxes)" in msg and "--add-classes" in msg
    assert len(workspace.dataset) == 0
    r = ingest(workspace, root, "yolo", add_classes=True)
    assert r.classes_added == ["crab"] and workspace.classes == ["shark", "fish", "crab"]
    labels = workspace.dataset.distinct("ground_truth.detections.label")
    assert labels == ["crab", "fish"]  # mapped by name, not by index


def test_npz_ingest_and_failure_cleans_media(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.ingestion.sources.test_formats import _npz

    caps = tmp_path / "caps"
    caps.mkdir()
    _npz(caps / "a.npz", 0)
    _npz(caps / "bad.npz", 1, proprio=np.zeros(2, np.float32))
    with pytest.raises(IngestError):
        ingest(workspace, caps, "npz")
    assert not list((workspace.root / "media").rglob("*.png"))
    (caps / "bad.npz").unlink()
    r = ingest(workspace, caps, "npz")
    assert r.added == 1
    s = workspace.dataset.first()
    assert s.split == "pool" and s.status == "unlabeled" and len(s.proprio) == 6
    assert s.npz_path.endswith("a.npz") and Path(s.filepath).is_file()
    assert 0.3 <= s.depth_min <= s.depth_mean <= s.depth_max <= 2.0


def test_other_formats_into_one_workspace(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.ingestion.sources.test_formats import _coco

    path, _, _ = _coco(tmp_path / "c")
    r = ingest(workspace, path, "coco")
    assert (r.added, r.boxes_added) == (3, 2)
    assert workspace.classes == ["shark", "fish"]
    assert set(workspace.dataset.distinct("split")) == set()  # unassigned until `split`
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("test", n=2):
        shutil.copy(p, pool / p.name)
    r = ingest(workspace, pool, "images", source="camera-7")
    assert r.added == 2
    assert workspace.dataset.match({"source": "camera-7"}).distinct("status") == ["unlabeled"]
