"""split, check and status on a real mongod."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEMO, demo_images
from workbench.curation.checking import check
from workbench.curation.splitting import split
from workbench.curation.status import status
from workbench.ingestion.ingest import ingest
from workbench.store import query

pytestmark = pytest.mark.integration


def _jsonl_with_groups(tmp_path: Path, n: int = 60) -> Path:
    """A JSONL manifest over real demo images, labels from their YOLO files, 12 groups."""
    import json

    lines = []
    for k, img in enumerate(demo_images(n=n)):
        rows = np.loadtxt(img.parent.parent / "labels" / f"{img.stem}.txt", ndmin=2)
        anns = [{"annotation_label": ["fish", "jellyfish", "penguin", "puffin", "shark",
                                      "starfish", "stingray"][int(r[0])],
                 "x_min_normalized": max(r[1] - r[3] / 2, 0), "y_min_normalized":
                 max(r[2] - r[4] / 2, 0), "x_max_normalized": min(r[1] + r[3] / 2, 1),
                 "y_max_normalized": min(r[2] + r[4] / 2, 1)} for r in rows if r[3] > 0]
        lines.append({"image_path": str(img), "group": f"session-{k % 12}",
                      "bounding_box_annotations": anns})
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    return path


def test_split_stratified_grouped_and_stable(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(workspace, _jsonl_with_groups(tmp_path), "jsonl")
    r = split(workspace, seed=3)
    assert sum(r.counts.values()) == 60 and r.moved == 60
    table = query.labeled_table(workspace, workspace.classes)
    for g in np.unique(table.group):
        assert len(set(table.split[table.group == g].tolist())) == 1
    assert check(workspace).ok
    ds = workspace.dataset
    assert sorted(ds.count_sample_tags()) == sorted({"labeled", *r.counts} - {
        k for k, v in r.counts.items() if v == 0})
    # Same seed, reset: same result. Without reset nothing moves.
    assert split(workspace, seed=3).moved == 0
    before = dict(zip(*ds.values(["id", "split"]), strict=True))
    r2 = split(workspace, seed=3, reset=True)
    assert r2.moved == 0 and dict(zip(*ds.values(["id", "split"]), strict=True)) == before


def test_split_never_moves_test_without_reset(workspace) -> None:  # type: ignore[no-untyped-def]
    ingest(workspace, DEMO, "yolo")
    test_ids = set(workspace.dataset.match({"split": "test"}).values("id"))
    r = split(workspace, ratios=(0.5, 0.25, 0.25), seed=1)
    assert r.moved == 0
    assert set(workspace.dataset.match({"split": "test"}).values("id")) == test_ids
    r = split(workspace, ratios=(0.5, 0.25, 0.25), seed=1, reset=True)
    assert r.moved > 0
    counts = r.counts
    assert abs(counts["test"] - 0.25 * 638) < 0.03 * 638
    for cls, row in r.per_class.items():
        assert all(v > 0 for v in row.values()), cls


def test_split_places_new_images_around_fixed_ones(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image, ImageOps

    ingest(workspace, DEMO, "yolo")
    before = dict(zip(*workspace.dataset.values(["id", "split"]), strict=True))
    # 40 new labeled images (mirrored demo photos: new bytes), no split yet.
    manifest = _jsonl_with_groups(tmp_path, n=40)
    lines = manifest.read_text().splitlines()
    import json

    out = []
    for k, line in enumerate(lines):
        obj = json.loads(line)
        dst = tmp_path / f"new{k}.jpg"
        with Image.open(obj["image_path"]) as im:
            ImageOps.mirror(im).save(dst, quality=90)
        obj["image_path"] = str(dst)
        obj.pop("group")
        for a in obj["bounding_box_annotations"]:
            a["x_min_normalized"], a["x_max_normalized"] = (1 - a["x_max_normalized"],
                                                            1 - a["x_min_normalized"])
        out.append(json.dumps(obj))
    manifest.write_text("\n".join(out))
    assert ingest(workspace, manifest, "jsonl").added == 40
    r = split(workspace, seed=0)
    assert r.moved == 40
    after = dict(zip(*workspace.dataset.values(["id", "split"]), strict=True))
    assert all(after[k] == v for k, v in before.items())
    assert workspace.dataset.count_values("split").get(None, 0) == 0


def test_check_finds_group_leak_and_bad_boxes(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(workspace, _jsonl_with_groups(tmp_path, n=12), "jsonl")
    split(workspace, seed=0)
    ds = workspace.dataset
    ids = ds.match({"group": "session-0"}).values("id")
    assert len(ids) == 1
    # Move one image of another group's split to create a leak by hand.
    ds.match({"group": "session-1"}).set_values("group", ["session-0"])
    a, b = ds.match({"group": "session-0"}).values("split")
    if a == b:
        other = "val" if a != "val" else "train"
        query.set_split(workspace, [ds.match({"group": "session-0"}).first()._id], other)
    res = check(workspace)
    assert res.leaks and not res.ok
    assert res.group_leaks[0]["key"] == "session-0"
    # A box outside its image (written behind workbench's back).
    s = ds.match({"ground_truth.detections.0": {"$exists": True}}).first()
    s.ground_truth.detections[0].bounding_box = [0.9, 0.1, 0.3, 0.1]
    s.save()
    res = check(workspace)
    assert res.boxes_outside_count == 1
    assert res.boxes_outside[0]["sample_id"] == s.id


def test_status_counts(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(workspace, DEMO, "yolo", source="aquarium-mini")
    pool = tmp_path / "pool"
    pool.mkdir()
    from tests.ingestion.sources.test_formats import _npz

    _npz(pool / "a.npz", 0)
    ingest(workspace, pool, "npz", source="robot")
    rep = status(workspace)
    assert rep["samples"] == 639 and rep["boxes"] == 4815
    assert rep["splits"]["pool"] == {"samples": 1, "boxes": 0}
    assert rep["status"]["unlabeled"]["samples"] == 1
    assert rep["sources"]["robot"]["samples"] == 1
    assert rep["classes"]["fish"]["boxes"] == 2669
    assert rep["classes"]["starfish"]["by_split"]["test"]["boxes"] == 11
    assert rep["runs"] == {"ingest": 2}
    assert rep["rounds"] == {}
