"""``workbench select``: choose pool images to label, by uncertainty (or at random).

Only ``status=unlabeled`` pool images are candidates. Chosen images become ``queued`` with
``round_selected=<round>`` and a tag of the round's name; the round is recorded as a run.
How a strategy chooses is its registry entry's business
(:data:`~workbench.selection.strategies.STRATEGIES`, :mod:`workbench.selection.choosers`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict

import numpy as np

from workbench.errors import WorkbenchError
from workbench.selection.choosers import latest_prediction_run
from workbench.selection.config import SelectConfig, SelectResult
from workbench.selection.strategies import STRATEGIES
from workbench.store import app_views, pool, runs, transaction
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

__all__ = ["SelectConfig", "SelectResult", "latest_prediction_run", "select"]


def select(ws: Workspace, config: SelectConfig) -> SelectResult:
    """Choose ``config.n`` pool images and (unless ``dry_run``) queue them as a round.

    Raises:
        WorkbenchError: no predictions, a round that exists (without ``replace``), an empty pool.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    rng = np.random.default_rng(config.seed)
    round_name = config.round or f"round-{len(runs.list_runs(ws, RunKind.SELECT)) + 1}"
    previous = runs.get_run(ws, round_name, kind=RunKind.SELECT)
    if previous is not None and not config.replace:
        raise WorkbenchError(f"round {round_name!r} exists; pass --replace to redo it or "
                             "choose another --round")
    entry = STRATEGIES.entry(config.strategy)
    choice = entry.value.choose(ws, config, rng, entry)
    picked, warnings = choice.picked, choice.warnings
    if choice.candidates == 0:
        raise WorkbenchError("the pool has no unlabeled images to select from; ingest some "
                             "with `workbench ingest DIR --format images`")
    if config.n > len(picked):
        warnings.append(f"asked for {config.n} images but only {len(picked)} candidates exist; "
                        "selected them all")
    result = SelectResult(round=round_name, selected=len(picked),
                          sample_ids=[str(i) for i in picked], strategy=config.strategy,
                          seconds=0.0, scores=[float(s) for s in choice.scores], run=choice.run,
                          candidates=choice.candidates, warnings=warnings,
                          dry_run=config.dry_run)
    if not config.dry_run:
        params = {k: v for k, v in asdict(config).items() if k != "n"} | {"n": config.n}

        def queue_round() -> None:
            if previous is not None:
                pool.release(ws, round_name)
                runs.delete_run(ws, round_name)
            pool.queue(ws, picked, round_name)
            runs.record_run(ws, RunKind.SELECT, round_name, params,
                            {"selected": len(picked), "sample_ids": result.sample_ids,
                             "scores": result.scores, "model_run": choice.run,
                             "score_key": entry.meta["score_key"]}, started_at)

        transaction.atomic(ws, queue_round, samples=len(picked))
        app_views.save_work_views(ws)
    result.seconds = round(time.perf_counter() - started, 4)
    return result
