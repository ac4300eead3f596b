"""``workbench annotate`` end to end, each command a process on the embedded mongod."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.annotation import writers
from tests.annotation.conftest import read_truth
from tests.conftest import DEMO, demo_images, make_yolo
from tests.test_cli_e2e import wb

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stop_mongods")]


def test_export_import_undo_from_the_command_line(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    names = yaml.safe_load((DEMO / "data.yaml").read_text())["names"]
    wb("init", ws)
    wb("ingest", str(make_yolo(tmp_path / "seed", {"train": demo_images("train", 6)})),
       "-f", "yolo", "-w", ws)
    pool = tmp_path / "pool"
    pool.mkdir()
    images = [p for p in sorted((DEMO / "valid" / "images").glob("*.jpg"))
              if read_truth(p, names)][:4]
    for p in images:
        shutil.copy(p, pool / p.name)
    wb("ingest", str(pool), "-f", "images", "-w", ws)
    pkg = tmp_path / "round.zip"
    exported = json.loads(wb("annotate", "export", "--view", "pool", "--out", str(pkg),
                             "-w", ws, "--json").stdout)
    assert exported["images"] == 4 and pkg.is_file()
    with zipfile.ZipFile(pkg) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    st = json.loads(wb("status", "-w", ws, "--json").stdout)
    assert st["status"]["in_annotation"]["samples"] == 4
    # which pool file each package image is: by content hash
    by_hash = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in images}
    truth = {im["file_name"]: (im["width"], im["height"], read_truth(by_hash[im["sha256"]], names))
             for im in manifest["images"]}
    assert len(truth) == 4

    bad = dict(truth)
    first = manifest["images"][0]["file_name"]
    bad[first] = (bad[first][0], bad[first][1], [("octopus", [0.1, 0.1, 0.2, 0.2])])
    proc = wb("annotate", "import", str(writers.coco(bad, tmp_path / "bad.json")),
              "--package", str(pkg), "-w", ws, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unknown-class" in proc.stderr and "bad.json" in proc.stderr
    assert "'octopus'" in proc.stderr and "nothing was imported" in proc.stderr

    good = writers.coco(truth, tmp_path / "good.json")
    dry = json.loads(wb("annotate", "import", str(good), "--package", str(pkg), "--dry-run",
                        "-w", ws, "--json").stdout)
    assert dry["dry_run"] and dry["images"] == 4 and dry["import_id"] == ""
    done = json.loads(wb("annotate", "import", str(good), "--package", str(pkg), "-w", ws,
                         "--json").stdout)
    assert done["images"] == 4 and done["boxes"] == sum(len(t[2]) for t in truth.values())
    assert done["import_id"].startswith("import-")
    st = json.loads(wb("status", "-w", ws, "--json").stdout)
    assert "in_annotation" not in st["status"] and st["status"]["labeled"]["samples"] == 10
    human = wb("annotate", "undo", done["import_id"], "-w", ws).stdout
    assert "restored 4 samples" in human
    st = json.loads(wb("status", "-w", ws, "--json").stdout)
    assert st["status"]["in_annotation"]["samples"] == 4


def test_annotate_help_and_errors(tmp_path: Path) -> None:
    top = wb("annotate", "--help").stdout
    for cmd in ("export", "import", "undo", "push", "pull"):
        assert cmd in top
    assert "--pre-annotations" in wb("annotate", "export", "--help").stdout
    ws = str(tmp_path / "ws")
    wb("init", ws, "--classes", "fish")
    proc = wb("annotate", "push", "-w", ws, check=False,
              env_extra={"LABEL_STUDIO_API_KEY": ""})
    assert proc.returncode == 1 and "LABEL_STUDIO_API_KEY" in proc.stderr
    proc = wb("annotate", "undo", "import-nope", "-w", ws, check=False)
    assert proc.returncode == 1 and "no import 'import-nope'" in proc.stderr
    proc = wb("annotate", "import", str(tmp_path / "missing.json"), "-w", ws, check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
