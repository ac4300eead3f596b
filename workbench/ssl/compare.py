"""``workbench ssl compare``: does the SSL checkpoint help the detector at a label budget?

For each seed, the labeled images of ``view`` are shuffled once and the first ``N`` taken for
every ``N`` of ``labels`` (nested subsets); on each subset the same detector is trained from
each start: the SSL checkpoint, scratch (the run's model YAML) and, if given, ``baseline``,
with the same epochs, size and seed (recorded ``train`` runs, via the training capability's
api). The subset is a tag on its samples while it trains (``tag:<name>`` is the view) and is
removed afterwards. Writes ``compare.json`` (every point), ``compare.md`` (mean ± std per
start and size) and ``compare.png`` (mAP50 against labeled images).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.ssl.backbone import architecture
from workbench.ssl.config import CompareConfig, CompareResult
from workbench.ssl.embed import pretrained_checkpoint, pretrained_run
from workbench.store import runs, simulation, ssl_subsets
from workbench.store.workspace import Workspace


def _starts(ws: Workspace, config: CompareConfig) -> dict[str, str]:
    params = pretrained_run(ws, config.run).get("params") or {}
    # from scratch = the same architecture freshly built, also when pretraining started from
    # a trained .pt (then that .pt is a start of its own only as --baseline)
    starts = {"ssl": str(pretrained_checkpoint(ws, config.run)),
              "scratch": architecture(str(params.get("model") or "yolov8n.yaml"))}
    if config.baseline:
        if not Path(config.baseline).is_file():
            raise WorkbenchError(f"--baseline {config.baseline!r} is not a file (a local .pt)")
        starts["baseline"] = config.baseline
    return starts


def _summary(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for start in dict.fromkeys(p["start"] for p in points):
        for n in sorted({p["labeled_images"] for p in points}):
            vals = [p["map50"] for p in points if p["start"] == start
                    and p["labeled_images"] == n]
            if vals:
                rows.append({"start": start, "labeled_images": n, "seeds": len(vals),
                             "map50_mean": float(np.mean(vals)),
                             "map50_std": float(np.std(vals))})
    return rows


def _markdown(run: str, config: CompareConfig, summary: list[dict[str, Any]]) -> str:
    sizes = sorted({r["labeled_images"] for r in summary})
    starts = list(dict.fromkeys(r["start"] for r in summary))
    cell = {(r["start"], r["labeled_images"]): r for r in summary}
    lines = [f"# SSL compare: {run}", "",
             f"mAP50 (mean ± std over {config.seeds} seed(s)), {config.epochs} epochs at "
             f"{config.imgsz} px", "",
             "| start | " + " | ".join(f"{n} labels" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for start in starts:
        vals = [cell.get((start, n)) for n in sizes]
        lines.append(f"| {start} | " + " | ".join(
            f"{v['map50_mean']:.4f} ± {v['map50_std']:.4f}" if v else "" for v in vals) + " |")
    return "\n".join(lines) + "\n"


def run_compare(ws: Workspace, config: CompareConfig) -> CompareResult:
    """Train every start on every subset and write the report (see the module).

    Raises:
        WorkbenchError: unknown run, too few labeled images for the largest subset, a
            missing baseline file, or what training refuses.
    """
    from workbench.plots import learning_curves
    from workbench.training.api import TrainConfig, train

    started = time.perf_counter()
    starts = _starts(ws, config)
    ids = simulation.labeled_ids(ws, config.view)
    if max(config.labels) > len(ids):
        raise WorkbenchError(f"the view {config.view!r} has {len(ids)} labeled images; "
                             f"--labels asks for up to {max(config.labels)}")
    stamp = runs.new_run_id("cmp").split("-", 1)[1]
    out = Path(config.out) if config.out else \
        ws.root / "runs" / "ssl" / config.run / f"compare-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    points: list[dict[str, Any]] = []
    for seed in range(config.seeds):
        order = np.random.default_rng(seed).permutation(len(ids))
        for n in sorted(config.labels):
            subset = [ids[i] for i in order[:n]]
            tag = f"ssl-compare-{stamp}-s{seed}-n{n}"
            ssl_subsets.tag_subset(ws, subset, tag)
            try:
                for start, model in starts.items():
                    trained = train(ws, TrainConfig(
                        view=f"tag:{tag}", val=config.val, model=model, imgsz=config.imgsz,
                        epochs=config.epochs, patience=0, batch=config.batch,
                        device=config.device, run=f"{config.run}-{stamp}-{start}-n{n}-s{seed}",
                        seed=seed, allow_missing_classes=True))
                    points.append({"start": start, "model": model, "labeled_images": n,
                                   "seed": seed, "map50": trained.map50,
                                   "map50_95": trained.map50_95, "train_run": trained.run,
                                   "seconds": trained.seconds})
            finally:
                ssl_subsets.untag_subset(ws, subset, tag)
    summary = _summary(points)
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for p in points:
        curves.setdefault(p["start"], {}).setdefault(str(p["seed"]), []).append(p)
    plot = learning_curves(curves, out / "compare.png", metrics=("map50",),
                           axes=("labeled_images",))
    markdown = _markdown(config.run, config, summary)
    (out / "compare.md").write_text(markdown)
    result = CompareResult(run=config.run, points=points, summary=summary, markdown=markdown,
                           plot=str(plot), json=str(out / "compare.json"),
                           seconds=round(time.perf_counter() - started, 2))
    (out / "compare.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result
