"""A small workspace of real demo images (every class in train and val) and one short
pretraining run on it, shared by the SSL tests of a module."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.conftest import demo_images
from tests.training.conftest import covering_workspace
from workbench.ingestion.ingest import ingest

#: Small enough for a test on two CPU cores: 96 px crops, batch 8.
IMGSZ, BATCH = 96, 8


@pytest.fixture(scope="module")
def ssl_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str):  # type: ignore[no-untyped-def]
    """A workspace with 16 train and 10 val real images and an unlabeled pool of 8."""
    root = tmp_path_factory.mktemp("ssl")
    ws = covering_workspace(root, mongo_uri, 16, 10)
    pool = root / "pool"
    pool.mkdir()
    for p in demo_images("test", n=8):
        shutil.copy(p, pool / p.name)
    ingest(ws, pool, "images")
    yield ws
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})


@pytest.fixture(scope="module")
def pretrained(ssl_ws: Any) -> Any:
    """Two SimCLR epochs on the train split (micro-relu backbone)."""
    from workbench.ssl.api import PretrainConfig, pretrain

    return pretrain(ssl_ws, PretrainConfig(view="split:train", method="simclr",
                                           model="yolov8n.yaml", imgsz=IMGSZ, epochs=2,
                                           batch=BATCH, run="ssl-fixture"))

