"""End-to-end: the CLI as a new user runs it, each command a process on the embedded mongod."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DEMO, REPO, _free_port, cli_env, demo_images, make_yolo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stop_mongods")]


def wb(*args: str, check: bool = True, timeout: int = 300,
       env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``workbench ARGS`` in a fresh process."""
    proc = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env={**cli_env(), **(env_extra or {})}, timeout=timeout,
                          cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def test_demo_workflow(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    out = wb("init", ws, "--name", "demo", "--json")
    assert json.loads(out.stdout)["database"].startswith("embedded mongod in")
    assert (tmp_path / "ws" / ".fiftyone-db").is_dir()
    res = json.loads(wb("ingest", str(DEMO), "--format", "yolo", "-w", ws, "--json").stdout)
    assert (res["added"], res["boxes_added"], res["errors"]) == (638, 4815, 0)
    assert res["issue_counts"] == {"warning:empty-box": 2}
    split = json.loads(wb("split", "-w", ws, "--json").stdout)
    assert split["counts"] == {"train": 448, "val": 127, "test": 63} and split["moved"] == 0
    chk = json.loads(wb("check", "-w", ws, "--json").stdout)
    assert chk["ok"] and chk["empty_classes"] == []
    st = json.loads(wb("status", "-w", ws, "--json").stdout)
    for key in ("samples", "boxes", "splits", "status", "sources", "classes"):
        assert key in st
    assert (st["samples"], st["boxes"]) == (638, 4815)
    assert st["sources"] == {"aquarium-mini": {"samples": 638, "boxes": 4815}}
    again = json.loads(wb("ingest", str(DEMO), "-f", "yolo", "-w", ws, "--json").stdout)
    assert (again["added"], again["already_present"]) == (0, 638)
    human = wb("status", "-w", ws).stdout
    assert "638 samples" in human and "starfish" in human


def test_bad_input_is_reported_without_traceback_and_changes_nothing(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    wb("init", ws)
    imgs = demo_images(n=3)
    root = make_yolo(tmp_path / "bad", {"train": imgs},
                     labels={imgs[1].stem: "0 0.5 0.5 0.2\n", imgs[2].stem: "12 .5 .5 .1 .1\n"})
    proc = wb("ingest", str(root), "-f", "yolo", "-w", ws, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{imgs[1].stem}.txt:1: expected 5 fields" in proc.stderr
    assert "class-id-out-of-range" in proc.stderr and "--skip-bad" in proc.stderr
    st = json.loads(wb("status", "-w", ws, "--json").stdout)
    assert st["samples"] == 0
    js = wb("ingest", str(root), "-f", "yolo", "-w", ws, "--json", check=False)
    assert js.returncode == 1 and json.loads(js.stdout)["errors"] == 2
    too_many = wb("ingest", str(root), "-f", "yolo", "-w", ws, "--skip-bad", check=False)
    assert too_many.returncode == 1 and "skip 2 of 3 image(s)" in too_many.stderr
    ok = json.loads(wb("ingest", str(root), "-f", "yolo", "-w", ws, "--skip-bad",
                       "--max-skipped", "0.7", "--json").stdout)
    assert (ok["added"], ok["skipped_bad"]) == (1, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "-w", "/nonexistent/ws"], "is not a workbench workspace"),
        (["ingest", "x", "-f", "kitti"], "valid formats: classdir, coco, fathomnet, hf, images"),
        (["ingest", "/nonexistent/data", "-f", "yolo"], "no such file or folder"),
        (["split", "--ratios", "0.5,0.5"], "invalid split ratios"),
    ],
)
def test_user_errors(tmp_path: Path, args: list[str], message: str) -> None:
    ws = tmp_path / "ws"
    wb("init", str(ws), "--classes", "fish,shark")
    if "-w" not in args:
        args = [*args, "-w", str(ws)]
    proc = wb(*args, check=False)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr.replace("\n", " ") and "Traceback" not in proc.stderr


def test_help_explains_every_command() -> None:
    top = wb("--help").stdout
    for cmd in ("init", "ingest", "split", "check", "status", "app"):
        assert cmd in top
        assert "--workspace" in wb(cmd, "--help").stdout or cmd == "init"
    for cmd in ("annotate", "loop"):
        assert cmd in top
    loop = wb("loop").stdout  # no --simulate, no subcommand: the help
    for text in ("--simulate", "--strategies", "next", "status"):
        assert text in loop


def test_check_exits_nonzero_on_leak(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    wb("init", ws)
    img = demo_images(n=1)[0]
    lines = []
    for k, split in enumerate(("train", "test")):
        dst = tmp_path / f"{k}.jpg"
        from PIL import Image

        with Image.open(img) as im:
            im.rotate(180 * k).save(dst)
        lines.append(json.dumps({"image_path": str(dst), "split": split, "group": "g1",
                                 "bounding_box_annotations": []}))
    (tmp_path / "m.jsonl").write_text("\n".join(lines))
    wb("ingest", str(tmp_path / "m.jsonl"), "-f", "jsonl", "-w", ws)
    proc = wb("check", "-w", ws, check=False)
    assert proc.returncode == 1 and "group 'g1' spans test, train" in proc.stderr


def test_app_serves_with_plugins(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    wb("init", ws)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=2):
        shutil.copy(p, pool / p.name)
    wb("ingest", str(pool), "-f", "images", "-w", ws)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "app", "--port", str(port),
                             "--no-open", "-w", ws], env=cli_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        body = ""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/plugins", timeout=5) as r:
                    body = r.read().decode()
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(1)
        plugins = json.loads(body)["plugins"]
        assert any(p["name"] == "@workbench/workbench"
                   and {"wb_status", "wb_select", "wb_train", "wb_export",
                        "wb_annotate_import"} <= set(p["operators"])
                   for p in plugins)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo(tmp_path: Path) -> None:
    """The README's first command, into a temporary workspace folder (2 training epochs)."""
    env = cli_env()
    demo = tmp_path / "demo"
    proc = subprocess.run(["make", "demo", f"DEMO_WS={demo}", "DEMO_EPOCHS=2"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ingested 340 new images, 2732 boxes" in proc.stdout
    assert "ingested 298 new images, 0 boxes" in proc.stdout
    assert "ok: no leaks" in proc.stdout
    assert "trained run demo" in proc.stdout and "mAP50" in proc.stdout
    assert "predicted 298 images" in proc.stdout
    assert "selected 50 of 298 pool images by entropy" in proc.stdout
    assert f"workbench app -w {demo}" in proc.stdout
    assert f"annotate import {demo}/round-1.zip" in proc.stdout
    assert (demo / "round-1.zip").is_file()
    st = json.loads(wb("status", "-w", str(demo), "--json").stdout)
    assert st["status"]["in_annotation"]["samples"] == 50
    assert st["rounds"] == {"round-1": {"samples": 50, "boxes": 0}}
