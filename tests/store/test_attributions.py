"""Licenses and attributions carried by samples (FathomNet, Hugging Face ...): counted per
view, and shipped in annotation packages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import demo_images, make_yolo
from workbench.annotation.api import PackageConfig, export_package
from workbench.ingestion.api import ingest
from workbench.store.view_data import attributions
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.integration


def _workspace(ws: Workspace, tmp_path: Path) -> None:
    ingest(ws, make_yolo(tmp_path / "d", {"train": demo_images("train", 6)}), "yolo")
    ids = [d["_id"] for d in ws.samples.find({}, {"_id": 1}).sort("_id", 1)]
    ws.samples.update_many({"_id": {"$in": ids[:3]}},
                           {"$set": {"license": "CC BY 4.0", "attribution": "MBARI"}})
    ws.samples.update_one({"_id": ids[3]}, {"$set": {"license": "CC0"}})


def test_pairs_are_counted_most_images_first(workspace: Workspace, tmp_path: Path) -> None:
    _workspace(workspace, tmp_path)
    assert attributions(workspace, "all") == [
        {"license": "CC BY 4.0", "attribution": "MBARI", "images": 3},
        {"license": "CC0", "attribution": None, "images": 1}]
    assert attributions(workspace, "split:val") == []


def test_packages_ship_the_attributions_of_their_images(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    _workspace(workspace, tmp_path)
    out = tmp_path / "pkg.zip"
    export_package(workspace, PackageConfig(view="all", out=out))
    with zipfile.ZipFile(out) as zf:
        credits = json.loads(zf.read("attribution.json"))
    assert {c["license"]: c["images"] for c in credits} == {"CC BY 4.0": 3, "CC0": 1}
