"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and one demo workspace
with its App per module, built through the CLI as a new user would.

Screenshots (every test's last page, and the DOM of a failing one) go to
``$WORKBENCH_ARTIFACTS/browser`` or, without that variable, ``tests/ui/browser/artifacts``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, _free_port
from tests.ui.browser import helpers, processes

DATASET = "browser-demo"
TRAIN_RUN = "browser-train"
RUN = "pool"  # the prediction run: pred_pool, scores_pool, unc_pool_<key>, emb_pool, viz_pool
SEED_WEIGHTS = REPO / "datasets" / "aquarium-mini" / "weights" / "yolov8n-224-seed.pt"
DEMO_YAML = REPO / "datasets" / "aquarium-mini" / "demo"


def artifacts_dir() -> Path:
    """Where screenshots go (created on first use)."""
    root = os.environ.get("WORKBENCH_ARTIFACTS")
    return Path(root) / "browser" if root else REPO / "tests" / "ui" / "browser" / "artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    """Keep each phase's report on the test item, so ``page`` knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium; installed with apt-get when missing (fails, naming the command,
    when that is impossible)."""
    try:
        return processes.ensure_chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``make demo``'s first steps on aquarium-mini, without training: init, ingest seed and
    pool, split, predict the pool with the shipped seed weights (boxes, scores, ``unc_``
    fields, embeddings and their 2-D map)."""
    root = tmp_path_factory.mktemp("browser")
    ws = root / "ws"
    try:
        processes.wb("init", str(ws), "--name", DATASET)
        processes.wb("ingest", str(DEMO_YAML / "seed.yaml"), "--format", "yolo",
                   "--source", "aquarium-seed", "-w", str(ws))
        processes.wb("ingest", str(DEMO_YAML / "pool.yaml"), "--format", "yolo", "--unlabeled",
                   "--source", "aquarium-pool", "-w", str(ws))
        processes.wb("split", "-w", str(ws))
        processes.wb("predict", "--model", str(SEED_WEIGHTS), "--imgsz", "224", "--embeddings",
                   "--run", RUN, "-w", str(ws))
        yield ws
    finally:
        from workbench.store import mongod

        for state in root.rglob(mongod.STATE_FILE):
            mongod.stop(state.parent)


@pytest.fixture(scope="module")
def app(demo_workspace: Path) -> Iterator[processes.App]:
    """``workbench app --no-open`` on a free port for the module's workspace."""
    log = demo_workspace.parent / "app.log"
    server = processes.start_app(demo_workspace, DATASET, _free_port(), log)
    yield server
    processes.stop_app(server)


@pytest.fixture(scope="module")
def trained_run(demo_workspace: Path) -> str:
    """A training run (1 epoch from the seed weights, ~20 s) for the export panel."""
    processes.wb("train", "--model", str(SEED_WEIGHTS), "--imgsz", "224", "--epochs", "1",
               "--batch", "16", "--run", TRAIN_RUN, "-w", str(demo_workspace))
    return TRAIN_RUN


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Chromium (headless) under Playwright, pointed at the system binary."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=processes.CHROMIUM_ARGS,
                               headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, app: processes.App, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context on the dataset page, the App's session state reset first,
    thumbnails drawn. The last page is saved as a screenshot (and its DOM when the test
    failed)."""
    folder = artifacts_dir()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for stale in (folder / f"{name}.html", folder / f"{name}.app.log"):
        stale.unlink(missing_ok=True)
    processes.reset_app_state(app)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        helpers.open_dataset(pg, app)
        yield pg
    finally:
        try:
            helpers.save_screenshot(pg, folder, name)
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                (folder / f"{name}.html").write_text(pg.content())
                (folder / f"{name}.app.log").write_text(app.log_tail(20_000))
        finally:
            context.close()
