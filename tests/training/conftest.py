"""A small real training set (demo images covering every class) and one trained run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import CLASSES, DEMO, make_yolo


def covering_images(split: str, n: int) -> list[Path]:
    """``n`` demo images of ``split`` that together contain every class."""
    folder = "valid" if split == "val" else split
    images = sorted((DEMO / folder / "images").glob("*.jpg"))
    chosen: list[Path] = []
    seen: set[int] = set()
    for img in images:
        text = (DEMO / folder / "labels" / f"{img.stem}.txt").read_text().split("\n")
        ids = {int(line.split()[0]) for line in text if line.strip()}
        if ids - seen:
            chosen.append(img)
            seen |= ids
    for img in images:
        if len(chosen) >= n:
            break
        if img not in chosen:
            chosen.append(img)
    assert seen == set(range(len(CLASSES)))
    return chosen[:n]


def covering_workspace(root: Path, mongo_uri: str, train: int, val: int):  # type: ignore[no-untyped-def]
    """A workspace on the session mongod with ``train`` and ``val`` real images (every class)."""
    from workbench.ingestion.ingest import ingest
    from workbench.store.workspace import init_workspace

    data = make_yolo(root / "data", {"train": covering_images("train", train),
                                     "val": covering_images("val", val)})
    ws = init_workspace(root / "ws", name=f"t-{uuid.uuid4().hex[:10]}", database_uri=mongo_uri)
    ingest(ws, data, "yolo")
    return ws


def cli_workspace(tmp_path: Path, train: int = 16, val: int = 8) -> str:
    """A workspace made with the CLI (``init`` + ``ingest``) of ``train`` and ``val`` real
    images covering every class."""
    from tests.test_cli_e2e import wb

    ws = str(tmp_path / "ws")
    wb("init", ws)
    data = make_yolo(tmp_path / "data", {"train": covering_images("train", train),
                                         "val": covering_images("val", val)})
    wb("ingest", str(data), "-f", "yolo", "-w", ws)
    return ws


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str):  # type: ignore[no-untyped-def]
    """A workspace with 24 train and 12 val real images."""
    ws = covering_workspace(tmp_path_factory.mktemp("train"), mongo_uri, 24, 12)
    yield ws
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})  # run names are unique per database


@pytest.fixture(scope="module")
def trained(small_ws):  # type: ignore[no-untyped-def]
    """A 2-epoch micro-relu run at 160 px."""
    from workbench.training.runner import TrainConfig, train

    epochs: list[int] = []
    result = train(small_ws, TrainConfig(model="micro-relu", imgsz=160, epochs=2, batch=8,
                                         run="tiny", workers=0),
                   on_epoch=lambda e, total, m: epochs.append(e))
    assert epochs == [1, 2]
    return result
