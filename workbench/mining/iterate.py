"""``workbench mine``: one mining pass, or ``--iterations N`` passes with retraining between.

Pass ``i`` (``0 <= i <= N``): evaluate the current model on the view and count its mistakes;
while ``i < N`` (or once, with ``N = 0``), label the negatives it fires on; while ``i < N``,
retrain from its weights on the training view (which now holds those negatives). The last pass
(the final model) queues the ``--similar`` round. Every pass is a row of the report: false
positives per image at ``fp_conf``, mAP50, recall per class, negatives added.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.mining.config import MineConfig, MineResult
from workbench.mining.mine import evaluated, summarize
from workbench.mining.negatives import add_negatives
from workbench.mining.similar import queue_similar
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

#: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]


def _retrain(ws: Workspace, config: MineConfig, base: dict[str, Any], weights: str,
             imgsz: int, iteration: int) -> str:
    """Train from ``weights`` on the base run's training view; the new run's name."""
    from workbench.training.api import TrainConfig, train

    params = base.get("params") or {}
    name = f"{config.run}-mine{iteration}-{uuid.uuid4().hex[:4]}"
    train(ws, TrainConfig(view=str(params.get("view") or "split:train"),
                          val=str(params.get("val") or config.view), model=weights,
                          imgsz=imgsz, epochs=config.epochs, patience=0, batch=config.batch,
                          device=config.device, run=name, seed=config.seed + iteration,
                          allow_missing_classes=True))
    return name


def run_mine(ws: Workspace, config: MineConfig, progress: Progress | None = None) -> MineResult:
    """Mine ``config.run`` (and iterate); see the module docstring.

    Raises:
        WorkbenchError: unknown or unfinished run, invalid view, empty negatives view,
            embeddings that no model of the workspace wrote.
    """
    from workbench.training.api import run_weights

    started = time.perf_counter()
    base = runs.get_run(ws, config.run, kind=RunKind.TRAIN)
    if base is None:
        raise WorkbenchError(f"no training run named {config.run!r}; `workbench runs` lists "
                             "them")
    unknown = sorted(set(config.critical) - set(ws.classes))
    if unknown:
        raise WorkbenchError(f"--critical names classes the workspace does not have: {unknown}"
                             f"; its classes: {', '.join(ws.classes)}")
    weights, run_imgsz = run_weights(ws, config.run)
    imgsz = config.imgsz or run_imgsz
    rng = np.random.default_rng(config.seed)
    run, rows = config.run, []
    result: MineResult | None = None
    negatives: list[dict[str, Any]] = []
    similar: dict[str, Any] = {}
    steps = config.iterations + 1
    for i in range(steps):
        if progress:
            progress(f"pass {i}: evaluating {run} on {config.view}", i, steps)
        ev = evaluated(ws, config, run)
        result = summarize(ws, config, run, ev)
        row: dict[str, Any] = {
            "iteration": i, "run": run, "fp_per_image": result.fp_per_image,
            "false_positives": result.false_positives, "precision": result.precision,
            "map50": round(ev.map50, 6),
            "recall": {c: result.per_class[c]["recall"]
                       for c in (config.critical or ws.classes)},
            "negatives_added": 0, "queued": 0}
        if config.negatives and (i < config.iterations or config.iterations == 0):
            if progress:
                progress(f"pass {i}: running {run} over {config.negatives}", i, steps)
            added = add_negatives(ws, config, weights, imgsz, rng, config.negatives_of_pass(i))
            negatives.append({"iteration": i, **added})
            row["negatives_added"] = added["labeled"]
        if config.similar and i == config.iterations:
            similar = queue_similar(ws, config, ev, weights, imgsz, run)
            row["queued"] = similar["queued"]
        rows.append(row)
        if i < config.iterations:
            if progress:
                progress(f"pass {i}: retraining from {run}", i, steps)
            run = _retrain(ws, config, base, weights, imgsz, i + 1)
            weights, _ = run_weights(ws, run)
    assert result is not None
    final = result
    final.similar = similar
    final.negatives = negatives[-1] if len(negatives) == 1 else (
        {"passes": negatives, "labeled": sum(n["labeled"] for n in negatives)}
        if negatives else {})
    if config.iterations:
        final.iterations = rows
    final.seconds = round(time.perf_counter() - started, 2)
    _write_report(ws, config, final, rows)
    if progress:
        progress("done", steps, steps)
    return final


def _write_report(ws: Workspace, config: MineConfig, result: MineResult,
                  rows: list[dict[str, Any]]) -> None:
    out_dir = ws.root / "runs" / "mine" / config.run
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.iterations:
        from workbench.plots import mining_iterations

        result.plot = str(mining_iterations(
            rows, Path(out_dir / "iterations.png"),
            f"mining {config.run} ({config.choose} negatives from {config.negatives}, "
            f"conf >= {config.fp_conf:g})"))
    result.report = str(out_dir / "report.json")
    Path(result.report).write_text(json.dumps(result.to_dict(), indent=2, default=str))
