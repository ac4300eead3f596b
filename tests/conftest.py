"""Shared fixtures: real demo images, small datasets built from them, and a real mongod."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"
CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]


def demo_images(split: str = "train", n: int = 5) -> list[Path]:
    """The first ``n`` real demo images of a split."""
    return sorted((DEMO / split / "images").glob("*.jpg"))[:n]


def make_yolo(root: Path, images: dict[str, list[Path]], labels: dict[str, str] | None = None,
              names: list[str] | None = None) -> Path:
    """Write a YOLO dataset: ``images`` split -> files; ``labels`` file stem -> label text.

    Without an entry in ``labels`` the demo label file of the image is copied.
    """
    labels = labels or {}
    for split, files in images.items():
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, root / split / "images" / f.name)
            if f.stem in labels:
                (root / split / "labels" / f"{f.stem}.txt").write_text(labels[f.stem])
            else:
                src = f.parent.parent / "labels" / f"{f.stem}.txt"
                shutil.copy(src, root / split / "labels" / f"{f.stem}.txt")
    keys = {"train": "train", "val": "val", "test": "test"}
    lines = ["path: ."] + [f"{keys[s]}: {s}/images" for s in images]
    lines.append(f"names: {names or CLASSES}")
    (root / "data.yaml").write_text("\n".join(lines) + "\n")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real mongod (FiftyOne's binary) on a free loopback port, for in-process tests.

    One process can hold one database connection, so every in-process workspace uses this
    server through ``database_uri``; the embedded mode is tested through CLI subprocesses.
    """
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    import fiftyone.core.service as fos

    mongod = fos.DatabaseService.find_mongod()
    dbpath = tmp_path_factory.mktemp("mongod")
    port = _free_port()
    proc = subprocess.Popen(
        [mongod, "--dbpath", str(dbpath), "--port", str(port), "--bind_ip", "127.0.0.1",
         "--nounixsocket", "--logpath", str(dbpath / "mongod.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    import pymongo

    uri = f"mongodb://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            break
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mongod did not start; see {dbpath / 'mongod.log'}") from None
            time.sleep(0.2)
    yield uri
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def workspace(tmp_path: Path, mongo_uri: str):  # type: ignore[no-untyped-def]
    """A fresh workspace (own dataset) on the session's mongod."""
    from workbench.store.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", name=f"t-{uuid.uuid4().hex[:10]}", database_uri=mongo_uri)
    yield ws
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})


def cli_env() -> dict[str, str]:
    """Environment for CLI subprocesses: no database settings leaking in from this process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
    env["FIFTYONE_DO_NOT_TRACK"] = "true"
    env["WORKBENCH_MONGOD_IDLE"] = "30"
    return env


@pytest.fixture
def stop_mongods(tmp_path: Path) -> Iterator[Path]:
    """Stop every embedded mongod started under ``tmp_path`` when the test ends."""
    yield tmp_path
    from workbench.store import mongod

    for state in tmp_path.rglob(mongod.STATE_FILE):
        mongod.stop(state.parent)
