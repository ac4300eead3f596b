"""``export-dataset``: a view's labeled images and boxes written as YOLO, COCO and Hugging Face
datasets; ingesting the export again gives the same images and the same boxes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli_env, demo_images, make_yolo
from workbench.errors import ConfigError
from workbench.ingestion.api import ExportDatasetConfig, export_dataset, ingest
from workbench.ingestion.export import ExportDatasetError
from workbench.store import query
from workbench.store.workspace import Workspace, init_workspace

pytestmark = pytest.mark.integration


def _boxes_by_hash(ws: Workspace) -> dict[str, list[tuple[str, tuple[float, ...]]]]:
    """content hash -> sorted (label, xywhn) of the labeled images."""
    data = query.box_arrays(ws, {"status": "labeled"})
    out: dict[str, list[tuple[str, tuple[float, ...]]]] = {h: [] for h in data["content_hash"]}
    for i, label, box in zip(data["sample_index"], data["label"], data["xywhn"], strict=True):
        # rounded to 1e-7 so that a 5e-10 write/read difference cannot change the order
        out[data["content_hash"][i]].append((str(label), tuple(round(float(v), 7) for v in box)))
    return {h: sorted(v) for h, v in out.items()}


def _same(a: dict[str, list[tuple[str, tuple[float, ...]]]],
          b: dict[str, list[tuple[str, tuple[float, ...]]]]) -> None:
    assert a.keys() == b.keys()
    for h in a:
        assert [label for label, _ in a[h]] == [label for label, _ in b[h]], h
        if a[h]:
            np.testing.assert_allclose([box for _, box in a[h]], [box for _, box in b[h]],
                                       atol=1e-6)


@pytest.fixture
def source_ws(tmp_path: Path, mongo_uri: str) -> Iterator[Workspace]:
    """12 train + 6 val + 4 test real images with their demo boxes (one negative)."""
    images = {"train": demo_images("train", 12), "val": demo_images("valid", 6),
              "test": demo_images("test", 4)}
    root = make_yolo(tmp_path / "yolo", images,
                     labels={images["train"][0].stem: ""})  # an empty label file: a negative
    ws = init_workspace(tmp_path / "ws", name=f"t-{uuid.uuid4().hex[:10]}",
                        database_uri=mongo_uri)
    ingest(ws, root, "yolo")
    yield ws
    ws.dataset.delete()


@pytest.fixture
def fresh_ws(tmp_path: Path, mongo_uri: str) -> Iterator[Workspace]:
    ws = init_workspace(tmp_path / "ws2", name=f"t-{uuid.uuid4().hex[:10]}",
                        database_uri=mongo_uri)
    yield ws
    ws.dataset.delete()


@pytest.mark.parametrize(("fmt", "reingest"), [("yolo", "data.yaml"),
                                                ("coco", "annotations.json")])
def test_round_trip_gives_identical_boxes(source_ws: Workspace, fresh_ws: Workspace,
                                          tmp_path: Path, fmt: str, reingest: str) -> None:
    out = tmp_path / f"export-{fmt}"
    result = export_dataset(source_ws, view="all", out=out, format=fmt)
    assert (result.images, result.splits) == (22, {"train": 12, "val": 6, "test": 4})
    assert result.boxes == sum(len(v) for v in _boxes_by_hash(source_ws).values())
    back = ingest(fresh_ws, out / reingest, fmt)
    assert back.added == 22 and back.boxes_added == result.boxes
    _same(_boxes_by_hash(source_ws), _boxes_by_hash(fresh_ws))
    if fmt == "yolo":  # the splits travel in data.yaml
        splits = {d["split"] for d in fresh_ws.samples.find({}, {"split": 1})}
        assert splits == {"train", "val", "test"}


def test_hf_export_is_a_dataset_dict_with_the_same_boxes(source_ws: Workspace,
                                                         fresh_ws: Workspace,
                                                         tmp_path: Path) -> None:
    import datasets

    out = tmp_path / "export-hf"
    result = export_dataset(source_ws, ExportDatasetConfig(view="all", out=out, format="hf"))
    assert result.splits == {"train": 12, "validation": 6, "test": 4}
    loaded = datasets.load_from_disk(str(out))
    assert set(loaded) == {"train", "validation", "test"}
    names = loaded["validation"].features["objects"]["category"].feature.names
    assert names == list(source_ws.classes)
    expected = _boxes_by_hash(source_ws)
    import hashlib

    for split in loaded:
        for row in loaded[split].cast_column("image", datasets.Image(decode=False)):
            digest = hashlib.sha256(row["image"]["bytes"]).hexdigest()
            w, h = row["width"], row["height"]
            got = sorted((names[c], tuple(round(v, 7) for v in (x / w, y / h, bw / w, bh / h)))
                         for c, (x, y, bw, bh) in zip(row["objects"]["category"],
                                                      row["objects"]["bbox"], strict=True))
            assert [g[0] for g in got] == [e[0] for e in expected[digest]]
            np.testing.assert_allclose([g[1] for g in got], [e[1] for e in expected[digest]],
                                       atol=1e-6)
    assert not list(tmp_path.glob(".export-hf*")), "temporary folders left behind"
    for split in ("train", "validation", "test"):  # and back in through the hf source
        ingest(fresh_ws, f"hf:{out}", split=split)
    _same(_boxes_by_hash(source_ws), _boxes_by_hash(fresh_ws))
    splits = {d["split"] for d in fresh_ws.samples.find({}, {"split": 1})}
    assert splits == {"train", "val", "test"}


def test_refusals_write_nothing(source_ws: Workspace, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(ExportDatasetError, match="exists and is not empty"):
        export_dataset(source_ws, view="all", out=busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    with pytest.raises(ExportDatasetError, match="has no labeled images"):
        export_dataset(source_ws, view="pool", out=tmp_path / "none")
    assert not (tmp_path / "none").exists()
    with pytest.raises(ConfigError, match="--format must be one of yolo, coco, hf"):
        ExportDatasetConfig(view="all", out=tmp_path / "x", format="kitti")
    result = export_dataset(source_ws, view="split:val", out=busy, overwrite=True, link=True)
    assert result.images == 6 and not (busy / "keep.txt").exists()


def test_cli_export_then_ingest(source_ws: Workspace, tmp_path: Path) -> None:
    def wb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                              text=True, env=cli_env(), timeout=300)

    out = tmp_path / "cli-export"
    done = wb("export-dataset", "split:train", str(out), "--format", "coco", "-w",
              str(source_ws.root), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["splits"] == {"train": 12}
    again = wb("export-dataset", "split:train", str(out), "-w", str(source_ws.root))
    assert again.returncode != 0 and "exists and is not empty" in again.stderr
    assert "Traceback" not in again.stderr
