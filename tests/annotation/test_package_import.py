"""annotate export / import / undo on a real mongod with real demo images."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.annotation import writers
from tests.annotation.conftest import RoundWorkspace, snapshot
from workbench.annotation.api import Manifest, PackageConfig, export_package
from workbench.annotation.importer import import_annotations, undo_import
from workbench.errors import InputReportError, SourceError, WorkbenchError
from workbench.store import runs, schema

pytestmark = pytest.mark.integration


def _export(rw: RoundWorkspace, **kw: Any) -> tuple[Path, Manifest]:
    out = rw.tmp / "pkg.zip"
    export_package(rw.ws, PackageConfig(out=out, **kw))
    with zipfile.ZipFile(out) as zf:
        manifest = Manifest.from_dict(json.loads(zf.read("manifest.json")), "test")
    return out, manifest


def _truth(rw: RoundWorkspace, manifest: Manifest) -> writers.Truth:
    paths = {str(d["_id"]): d["filepath"] for d in rw.ws.samples.find({}, {"filepath": 1})}
    return {im.file_name: (im.width, im.height, rw.truth[paths[im.sample_id]])
            for im in manifest.images}


def _stored(rw: RoundWorkspace, sample_id: str) -> list[tuple[str, list[float]]]:
    from bson import ObjectId

    doc = rw.ws.samples.find_one({"_id": ObjectId(sample_id)})
    return [(d["label"], d["bounding_box"]) for d in doc[schema.GROUND_TRUTH]["detections"]]


def test_export_writes_a_self_contained_package(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    out, manifest = _export(rw, pre_annotations="p1")
    assert manifest.round == "round-1" and len(manifest.images) == 5
    assert manifest.workspace["dataset_id"] == str(rw.ws.dataset._doc.id)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        paths = {str(d["_id"]): d["filepath"] for d in rw.ws.samples.find({}, {"filepath": 1})}
        for im in manifest.images:
            data = zf.read(f"images/{im.file_name}")
            assert data == Path(paths[im.sample_id]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == im.sha256
            assert f"thumbnails/{im.sample_id}.jpg" in names
        preds = json.loads(zf.read("predictions.coco.json"))
        assert preds["info"]["workbench_kind"] == "predictions"
        assert preds["annotations"] and all("score" in a for a in preds["annotations"])
        tasks = json.loads(zf.read("labelstudio_tasks.json"))
        assert all("annotations" not in t and t["predictions"] for t in tasks)
        guide = zf.read("guidelines.md").decode()
        assert "## Labeling rules" in guide and "![fish example 1](guidelines/fish-1.jpg)" in guide
        assert "guidelines/fish-1.jpg" in names
    statuses = rw.ws.samples.distinct(schema.STATUS, {schema.ROUND_SELECTED: "round-1"})
    assert statuses == ["in_annotation"]
    assert runs.get_run(rw.ws, manifest.package_id, "annotate-export") is not None
    confident, _ = _export(rw, pre_annotations="p1", pre_annotation_conf=0.6)
    with zipfile.ZipFile(confident) as zf:  # the test predictions all have confidence 0.5
        assert json.loads(zf.read("predictions.coco.json"))["annotations"] == []


@pytest.mark.parametrize("fmt", sorted(writers.WRITERS))
def test_round_trip_reproduces_boxes_and_is_idempotent_and_undoable(
        round_ws: RoundWorkspace, fmt: str) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    before = snapshot(rw.ws)
    truth = _truth(rw, manifest)
    path = writers.WRITERS[fmt](truth, rw.tmp)
    result = import_annotations(rw.ws, path, package=pkg)
    assert result.format == fmt
    assert result.images == 5 and result.boxes == sum(len(b) for _, _, b in truth.values())
    for im in manifest.images:
        stored = _stored(rw, im.sample_id)
        expected = truth[im.file_name][2]
        assert sorted(s[0] for s in stored) == sorted(e[0] for e in expected)
        got = np.array(sorted(s[1] for s in stored))
        want = np.array(sorted(e[1] for e in expected))
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    docs = list(rw.ws.samples.find({schema.ROUND_SELECTED: "round-1"}))
    assert {d[schema.STATUS] for d in docs} == {"labeled"}
    assert {d[schema.SPLIT] for d in docs} <= {"train", "val", "test"}
    assert all("labeled" in d["tags"] and "in_annotation" not in d["tags"] for d in docs)

    after_first = snapshot(rw.ws)
    again = import_annotations(rw.ws, path, package=pkg)
    assert (again.images, again.unchanged, again.same_as) == (0, 5, result.import_id)
    assert snapshot(rw.ws) == after_first

    undo_import(rw.ws, result.import_id)
    assert snapshot(rw.ws) == before


def test_returned_package_with_annotations_inside(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw, pre_annotations="p1")
    returned = rw.tmp / "returned.zip"
    shutil.copy(pkg, returned)
    coco = writers.coco(_truth(rw, manifest), rw.tmp / "a.json")
    with zipfile.ZipFile(returned, "a") as zf:
        zf.write(coco, "annotations.coco.json")
    result = import_annotations(rw.ws, returned)
    assert (result.format, result.images, result.not_annotated) == ("coco", 5, 0)
    d = result.to_dict()
    assert {"import_id", "images", "boxes"} <= d.keys()


def _refused(rw: RoundWorkspace, path: Path, pkg: Path | None, kind: str) -> None:
    before = snapshot(rw.ws)
    with pytest.raises(InputReportError) as info:
        import_annotations(rw.ws, path, package=pkg)
    kinds = {i.kind for i in info.value.result.issues if i.severity == "error"}
    assert kind in kinds, kinds
    assert snapshot(rw.ws) == before


def test_invalid_annotations_are_refused_whole(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    truth = _truth(rw, manifest)
    first = manifest.images[0].file_name

    bad = dict(truth)
    w, h, boxes = bad[first]
    bad[first] = (w, h, [("octopus", [0.1, 0.1, 0.2, 0.2]), *boxes])
    _refused(rw, writers.coco(bad, rw.tmp / "class.json"), pkg, "unknown-class")

    bad = dict(truth)
    bad[first] = (w, h, [("fish", [0.5, 0.5, 0.9, 0.2]), *boxes])  # x2 = 1.4
    _refused(rw, writers.coco(bad, rw.tmp / "outside.json"), pkg, "box-outside-image")

    bad = dict(truth)
    bad["5f0000000000000000000000.jpg"] = (w, h, boxes)
    _refused(rw, writers.coco(bad, rw.tmp / "image.json"), pkg, "unknown-image")

    bad = dict(truth)
    bad[first] = (w + 10, h, boxes)
    _refused(rw, writers.labelstudio(bad, rw.tmp / "size.json"), pkg, "size-mismatch")

    _refused(rw, writers.coco(truth, rw.tmp / "scored.json", score=True), pkg,
             "prediction-as-annotation")


def test_the_packages_own_predictions_are_not_annotations(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, _ = _export(rw, pre_annotations="p1")
    with zipfile.ZipFile(pkg) as zf:
        (rw.tmp / "annotations.coco.json").write_bytes(zf.read("predictions.coco.json"))
    _refused(rw, rw.tmp / "annotations.coco.json", pkg, "prediction-as-annotation")


def _rezip(pkg: Path, out: Path, edit: Any) -> Path:
    with zipfile.ZipFile(pkg) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "manifest.json":
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            dst.writestr(item, data)
    return out


def test_package_from_elsewhere_or_tampered_is_refused(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    ann = writers.coco(_truth(rw, manifest), rw.tmp / "a.json")
    before = snapshot(rw.ws)

    def other(doc: dict) -> None:
        doc["workspace"]["dataset_id"] = "000000000000000000000000"

    with pytest.raises(SourceError, match="exported from workspace"):
        import_annotations(rw.ws, ann, package=_rezip(pkg, rw.tmp / "other.zip", other))

    def classes(doc: dict) -> None:
        doc["classes"] = list(reversed(doc["classes"]))

    with pytest.raises(SourceError, match="does not match its hash"):
        import_annotations(rw.ws, ann, package=_rezip(pkg, rw.tmp / "tampered.zip", classes))

    returned = rw.tmp / "extra.zip"
    shutil.copy(pkg, returned)
    with zipfile.ZipFile(returned, "a") as zf:
        zf.write(ann, "annotations.coco.json")
        zf.writestr("run.sh", "rm -rf /")
    with pytest.raises(SourceError, match=r"unexpected entry 'run\.sh'"):
        import_annotations(rw.ws, returned)
    assert snapshot(rw.ws) == before


def test_a_changed_image_in_the_returned_package_is_refused(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    folder = rw.tmp / "unzipped"
    with zipfile.ZipFile(pkg) as zf:
        zf.extractall(folder)
    writers.coco(_truth(rw, manifest), folder / "annotations.coco.json")
    target = folder / "images" / manifest.images[0].file_name
    target.write_bytes(target.read_bytes() + b"\0")
    _refused(rw, folder, None, "image-modified")


def test_dry_run_shows_the_diff_and_writes_nothing(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    truth = _truth(rw, manifest)
    first = import_annotations(rw.ws, writers.coco(truth, rw.tmp / "t.json"), package=pkg)
    many = next(im for im in manifest.images if len(truth[im.file_name][2]) >= 3)
    w, h, boxes = truth[many.file_name]
    (l0, b0), (_, b1), _, *rest = boxes
    edited = dict(truth)
    moved = [b0[0] + 0.01, b0[1], b0[2], b0[3]]
    edited[many.file_name] = (w, h, [(l0, moved), ("shark" if l0 != "shark" else "fish", b1),
                                     *rest, ("fish", [0.01, 0.01, 0.05, 0.05])])
    before = snapshot(rw.ws)
    dry = import_annotations(rw.ws, writers.coco(edited, rw.tmp / "e.json"), package=pkg,
                             dry_run=True)
    assert snapshot(rw.ws) == before and dry.import_id == ""
    assert dry.images == 1
    row = dry.per_image[0]
    assert row["sample_id"] == many.sample_id
    assert (row["added"], row["removed"], row["moved"], row["relabeled"]) == (1, 1, 1, 1)

    second = import_annotations(rw.ws, rw.tmp / "e.json", package=pkg)
    with pytest.raises(WorkbenchError, match=second.import_id):
        undo_import(rw.ws, first.import_id)
    undo_import(rw.ws, second.import_id)
    undo_import(rw.ws, first.import_id)
    with pytest.raises(WorkbenchError, match="already undone"):
        undo_import(rw.ws, first.import_id)
    assert rw.ws.samples.distinct(schema.STATUS, {schema.ROUND_SELECTED: "round-1"}) == [
        "in_annotation"]


def test_unannotated_images_stay_in_annotation(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    pkg, manifest = _export(rw)
    truth = _truth(rw, manifest)
    first, second = manifest.images[0].file_name, manifest.images[1].file_name
    partial = {first: truth[first], second: (truth[second][0], truth[second][1], [])}
    result = import_annotations(rw.ws, writers.yolo(partial, rw.tmp / "y"), package=pkg)
    assert (result.images, result.boxes, result.not_annotated) == (2, len(truth[first][2]), 3)
    from bson import ObjectId

    negative = rw.ws.samples.find_one({"_id": ObjectId(manifest.images[1].sample_id)})
    assert negative[schema.STATUS] == "labeled"
    assert negative[schema.GROUND_TRUTH]["detections"] == []
    assert rw.ws.samples.count_documents({schema.STATUS: "in_annotation"}) == 3
