"""SIGKILL at random moments during ingest, predictions import and annotate import (issue 13).

Each scenario runs the real CLI in a subprocess on a workspace with its own embedded mongod,
kills the command (or the mongod) with SIGKILL after a seeded random delay drawn over
``[0, 1.1 x a clean run]`` (so kills land before, inside and after the write phase; every
second iteration instead kills a random time within the write phase's length after the
first write is seen, so that few iterations still hit the write phase), then
checks: ``status`` refuses while an operation is unrecovered (exit 3, naming
``workbench recover``) or succeeds; ``workbench recover --json``; the store is all-BEFORE or
all-AFTER (labels, status, split, tags, round, predictions of every sample); tags mirror
status/split; no duplicate content hash; ``check --json`` ok; re-running the command gives
AFTER (and for annotate import, ``annotate undo`` then gives BEFORE again).

Run them (slow; ~4 minutes with the default 2 iterations per scenario on 2 busy cores)::

    pytest tests/crash -m slow -s          # -s shows the seed, the delays and each iteration

More iterations, another seed::

    WORKBENCH_CRASH_ITERATIONS=50 pytest tests/crash -m slow
    WORKBENCH_CRASH_SEED=7 WORKBENCH_CRASH_ITERATIONS=10 pytest tests/crash -m slow

``WORKBENCH_CRASH_MONGOD_GRACE`` (default 60 s) is how long a command may go on after its
mongod was killed: it must fail on its own by then, with a message and no traceback.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.crash.harness import (
    ITERATIONS,
    SEED,
    Dataset,
    Iteration,
    Moment,
    Snapshot,
    Store,
    annotation_round,
    check_recovered,
    draw_delays,
    log,
    make_dataset,
    phase_of,
    predictions_jsonl,
    report,
    run_and_kill,
    status_and_recover,
    stop_mongods,
    wb,
)

pytestmark = pytest.mark.slow

N_IMAGES = 1500
BOXES_PER_IMAGE = 8


def _rng(scenario: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(scenario.encode())])


def _delays(scenario: str, clean_seconds: float,
            window: tuple[float, float] | None) -> list[Moment]:
    delays = draw_delays(_rng(scenario), ITERATIONS, clean_seconds, window)
    seen = f"writes seen {window[0]:.2f}-{window[1]:.2f}s" if window else "no write seen"
    log(f"{scenario}: seed {SEED}, clean run {clean_seconds:.2f}s ({seen}), "
        f"kill moments {delays} (at: s after the start; write: s after the first write)")
    return delays


def count_samples(samples: Any) -> int:
    return int(samples.count_documents({}))


def count_predicted(field: str) -> Callable[[Any], int]:
    return lambda samples: int(samples.count_documents({field: {"$exists": True}}))


def count_labeled_and_placed(samples: Any) -> tuple[int, int]:
    return (samples.count_documents({"status": "labeled"}),
            samples.count_documents({"split": "pool"}))


def _finish(scenario: str, iterations: list[Iteration]) -> None:
    text = report(iterations)
    log(text)
    if any(it.problems for it in iterations):
        pytest.fail(f"{scenario}: crash invariants violated\n{text}", pytrace=False)


@dataclass
class Reference:
    """An uninterrupted run: its workspace, its duration and the AFTER state."""

    ws: Path
    seconds: float
    window: tuple[float, float] | None  # when the clean run was seen writing
    after: Snapshot


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """1,500 distinct JPEGs x 8 boxes (12,000 boxes) as a YOLO dataset."""
    return make_dataset(tmp_path_factory.mktemp("data"), N_IMAGES, BOXES_PER_IMAGE, SEED)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, data: Dataset) -> Iterator[Reference]:
    """The reference ingest of :func:`data` into a fresh workspace (kept for predictions)."""
    root = tmp_path_factory.mktemp("ingested")
    ws = root / "ws"
    wb("init", str(ws))
    seconds, window, out = Store(ws).timed_run(
        ["ingest", str(data.root), "-f", "yolo", "-w", str(ws), "--json"],
        count_samples)
    res = json.loads(out)
    assert (res["added"], res["boxes_added"]) == (N_IMAGES, N_IMAGES * BOXES_PER_IMAGE)
    yield Reference(ws, seconds, window, Store(ws).snapshot())
    stop_mongods(root)


@pytest.fixture
def own_mongods(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path``; every embedded mongod under it is stopped at the end."""
    yield tmp_path
    stop_mongods(tmp_path)


# ---------------------------------------------------------------- ingest


@pytest.mark.parametrize("target", ["cli", "mongod"])
def test_ingest_killed(target: str, data: Dataset, ingested: Reference,
                       own_mongods: Path) -> None:
    """SIGKILL during ``ingest`` of 12,000 boxes; each iteration on a fresh workspace."""
    scenario = f"ingest/{target}"
    command = ["ingest", str(data.root), "-f", "yolo"]
    iterations = []
    for i, delay in enumerate(_delays(scenario, ingested.seconds, ingested.window)):
        t0 = time.perf_counter()
        ws = own_mongods / f"ws{i}"
        wb("init", str(ws))
        store = Store(ws)
        before = store.snapshot()
        kill = run_and_kill([*command, "-w", str(ws)], delay, target, store, count_samples)
        it = Iteration(scenario, i, kill)
        it.phase = phase_of(store.snapshot(), before, ingested.after)
        status_and_recover(it, ws, it.phase)
        check_recovered(it, ws, store.snapshot(), before, ingested.after)
        wb(*command, "-w", str(ws))
        final = store.snapshot()
        if final.rows != ingested.after.rows:
            it.problems.append(f"re-running ingest did not give AFTER: "
                               f"{ingested.after.diff(final)}")
        stop_mongods(ws)
        it.seconds = time.perf_counter() - t0
        log(it.line())
        iterations.append(it)
    _finish(scenario, iterations)


# ---------------------------------------------------------------- predictions import


def test_predictions_import_killed(data: Dataset, ingested: Reference) -> None:
    """SIGKILL during ``predictions import`` of 12,000 boxes; a new run name per iteration."""
    scenario = "predictions-import/cli"
    ws = ingested.ws
    store = Store(ws)
    jsonl = predictions_jsonl(data, ws.parent / "preds.jsonl", SEED)

    def command(run: str) -> list[str]:
        return ["predictions", "import", str(jsonl), "--run", run, "--replace", "-w", str(ws)]

    seconds, window, _ = store.timed_run(command("ref"), count_predicted("pred_ref"))
    after = store.snapshot("pred_ref")
    assert all(row[5] is not None and len(row[5]) == BOXES_PER_IMAGE
               for row in after.rows.values())
    iterations = []
    for i, delay in enumerate(_delays(scenario, seconds, window)):
        t0 = time.perf_counter()
        run, field = f"p{i}", f"pred_p{i}"
        before = store.snapshot(field)
        kill = run_and_kill(command(run), delay, "cli", store, count_predicted(field))
        it = Iteration(scenario, i, kill)
        it.phase = phase_of(store.snapshot(field), before, after)
        status_and_recover(it, ws, it.phase)
        check_recovered(it, ws, store.snapshot(field), before, after)
        wb(*command(run))
        final = store.snapshot(field)
        if final.rows != after.rows:
            it.problems.append(f"re-running predictions import did not give AFTER: "
                               f"{after.diff(final)}")
        it.seconds = time.perf_counter() - t0
        log(it.line())
        iterations.append(it)
    _finish(scenario, iterations)


# ---------------------------------------------------------------- annotate import


@pytest.mark.parametrize("target", ["cli", "mongod"])
def test_annotate_import_killed(target: str, data: Dataset, own_mongods: Path) -> None:
    """SIGKILL during ``annotate import`` of 1,500 images x 8 boxes; undo returns to BEFORE."""
    scenario = f"annotate-import/{target}"
    rnd = annotation_round(own_mongods, data, N_IMAGES)
    ws, store = rnd.ws, Store(rnd.ws)
    command = ["annotate", "import", str(rnd.answers), "--package", str(rnd.package),
               "-w", str(ws), "--json"]
    before = store.snapshot()
    assert {row[1] for row in before.rows.values()} == {"in_annotation"}
    seconds, window, out = store.timed_run(command, count_labeled_and_placed)
    ref = json.loads(out)
    assert (ref["images"], ref["boxes"]) == (N_IMAGES, N_IMAGES * BOXES_PER_IMAGE)
    after = store.snapshot()
    wb("annotate", "undo", ref["import_id"], "-w", str(ws))
    assert store.snapshot().rows == before.rows, "undo of the clean import is not BEFORE"
    iterations = []
    for i, delay in enumerate(_delays(scenario, seconds, window)):
        t0 = time.perf_counter()
        kill = run_and_kill(command, delay, target, store, count_labeled_and_placed)
        it = Iteration(scenario, i, kill)
        iterations.append(it)
        it.phase = phase_of(store.snapshot(), before, after)
        status_and_recover(it, ws, it.phase)
        check_recovered(it, ws, store.snapshot(), before, after)
        res = json.loads(wb(*command).stdout)
        final = store.snapshot()
        if final.rows != after.rows:
            it.problems.append(f"re-running annotate import did not give AFTER: "
                               f"{after.diff(final)}")
        # the re-run's own import when it changed images; else the completed killed one
        undo_id = res["import_id"] if res["images"] else res.get("same_as") or res["import_id"]
        wb("annotate", "undo", undo_id, "-w", str(ws))
        back = store.snapshot()
        if back.rows != before.rows:
            it.problems.append(f"annotate undo {undo_id} after the re-run (which changed "
                               f"{res['images']} images) is not BEFORE: {before.diff(back)}")
        it.seconds = time.perf_counter() - t0
        log(it.line())
        if back.rows != before.rows:
            log(f"{scenario}: the workspace is not BEFORE any more; remaining iterations skipped")
            break
    _finish(scenario, iterations)
