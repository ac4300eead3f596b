"""Fixtures of the replica-set tests: one 3-member set for the session, started with the CLI
(``workbench db start-replset``) and stopped at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_images, make_yolo
from tests.crash.harness import wb, wb_json
from tests.store.replset_support import (
    BUSY_BOXES,
    FAILOVER_BOXES,
    N_LABELED,
    N_POOL,
    build,
    log,
    predictions_file,
)


@pytest.fixture(scope="session")
def replset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A 3-member set started with the CLI: ``(folder, start-replset --json)``."""
    folder = tmp_path_factory.mktemp("replset")
    t0 = time.perf_counter()
    try:
        info = wb_json("db", "start-replset", str(folder), "--members", "3")
        log(f"started in {time.perf_counter() - t0:.1f}s: {info['uri']}")
        yield folder, info
    finally:
        wb("db", "stop", str(folder), check=False)


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Labeled and pool YOLO folders of real demo images, and prediction files for them."""
    root = tmp_path_factory.mktemp("data")
    images = demo_images("train", N_LABELED + N_POOL)
    labeled = make_yolo(root / "labeled", {"train": images[:N_LABELED]})
    pool = make_yolo(root / "pool", {"train": images[N_LABELED:]})
    paths = sorted((labeled / "train" / "images").glob("*.jpg")) + sorted(
        (pool / "train" / "images").glob("*.jpg"))
    return {"labeled": labeled, "pool": pool, "paths": [str(p.resolve()) for p in paths],
            "small": predictions_file(root / "small.jsonl", paths, 8, seed=1),
            "failover": predictions_file(root / "failover.jsonl", paths, FAILOVER_BOXES, seed=2),
            "busy": predictions_file(root / "busy.jsonl", paths, BUSY_BOXES, seed=3)}


@pytest.fixture(scope="session")
def rs_workspace(replset: tuple[Path, dict[str, Any]], data: dict[str, Any],
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A workspace on the set, ingested and split: ``(folder, outputs of build)``."""
    ws = tmp_path_factory.mktemp("rs") / "ws_rs"
    return ws, build(ws, data, replset[1]["uri"])
