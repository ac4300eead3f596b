"""``workbench loop --simulate``: does uncertainty sampling beat random on this data?

For every seed and strategy a simulation workspace is made beside the source one (same
database, its own dataset, ``OUT/work/<strategy>-s<seed>``): the source's validation images
with their labels, and its pool images (default: the train split) *without* labels. Each
seed draws one random initial set, the same for every strategy; the oracle labels it through
the real package/import path. Every round then trains (same settings for all), records the
validation mAP, predicts the remaining pool, selects the next batch with the strategy and has
the oracle label it.

Every step checks the store before it runs (a finished training run, a selected round, a
labeled round are not redone), so re-running the same command continues an interrupted
simulation from where it stopped. A round's point (labeled images and boxes, mAP) is counted
from the store by the rounds selected up to it, so a point recomputed on resume is the one
first written.

Annotation cost follows boxes as much as images: every point records both, and the summary
gives each strategy's label saving against random on both axes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.curves import label_saving
from workbench.errors import ConfigError
from workbench.loop.config import SimConfig, SimResult
from workbench.loop.oracle import Oracle
from workbench.selection.api import STRATEGIES, SelectConfig, select
from workbench.store import pool, runs, simulation
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace, drop_dataset, init_workspace, open_workspace

__all__ = ["SimConfig", "SimResult", "simulate", "summarize"]

STATE = "simulation.json"
CURVES = "curves.json"
#: step, done, total, description
Progress = Callable[[int, int, str], None]


def _sim_name(src: Workspace, out: Path, strategy: str, seed: int) -> str:
    tag = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:4]
    return f"{src.config.name}-sim{tag}-{strategy}-s{seed}"[:100]


def _setup(src: Workspace, cfg: SimConfig, out: Path, strategy: str, seed: int,
           pool_ids: list[Any], oracle: Oracle) -> Workspace:
    """Create (or reopen) one simulation workspace with its labeled initial set."""
    root = out / "work" / f"{strategy}-s{seed}"
    if (root / "workbench.yaml").is_file():
        ws = open_workspace(root)
    else:
        target = src.target
        name = _sim_name(src, out, strategy, seed)
        drop_dataset(src, name)  # left by a simulation whose folder was deleted
        ws = init_workspace(root, name=name, classes=src.classes,
                            database_uri=target.uri,
                            database_dir=None if target.uri else str(target.directory),
                            split_ratios=(1.0, 0.0, 0.0))
        simulation.copy_samples(src, ws, cfg.val, pool_ids)
    if not simulation.round_started(ws, _round(ws, 0)):
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(pool_ids), size=cfg.initial, replace=False).tolist())
        pool.queue(ws, [pool_ids[k] for k in chosen], _round(ws, 0))
    _label_round(ws, _round(ws, 0), oracle)
    return ws


def _round(ws: Workspace, r: int) -> str:
    """Round names double as run ids, which are unique per database: prefix the dataset."""
    return f"{ws.config.name}-r{r}"


def _label_round(ws: Workspace, round_name: str, oracle: Oracle) -> None:
    if simulation.unlabeled_in_round(ws, round_name):
        oracle.annotate(ws, round_name, ws.root / "packages")


def _train(ws: Workspace, cfg: SimConfig, r: int, seed: int) -> dict[str, Any]:
    from workbench.training.api import TrainConfig, last_checkpoint, train

    name = f"{ws.config.name}-train-r{r}"
    doc = runs.get_run(ws, name, RunKind.TRAIN)
    if doc is not None and doc.get("status") == "completed":
        return dict(doc["outputs"])
    resume = doc is not None and last_checkpoint(ws, name).is_file()
    if doc is not None and not resume:  # interrupted before its first checkpoint: start over
        runs.delete_run(ws, name)
    config = TrainConfig(view="split:train", val="split:val", model=cfg.model, imgsz=cfg.imgsz,
                         epochs=cfg.epochs, patience=cfg.patience, batch=cfg.batch, run=name,
                         seed=seed, allow_missing_classes=True, overrides=dict(cfg.overrides),
                         resume=resume)
    return train(ws, config).to_dict()


def _select(ws: Workspace, cfg: SimConfig, strategy: str, r: int, seed: int,
            model_weights: str) -> None:
    from workbench.prediction.api import PredictConfig, predict

    name = _round(ws, r + 1)
    if runs.get_run(ws, name, RunKind.SELECT) is not None:
        return
    run = None
    meta = STRATEGIES.meta(strategy)
    if not meta["baseline"]:  # random needs no predictions
        run = f"{ws.config.name}-pred-r{r}"
        predict(ws, PredictConfig(model=model_weights, run=run, view="pool,status:unlabeled",
                                  imgsz=cfg.imgsz, replace=True, tta=bool(meta["needs_tta"])))
    select(ws, SelectConfig(n=cfg.budget, run=run, strategy=strategy, round=name, seed=seed))


def _point(ws: Workspace, r: int, trained: dict[str, Any], pool_size: int) -> dict[str, Any]:
    """Round ``r``'s curve point: images and ground-truth boxes labeled in rounds ``0..r`` (one
    aggregation per call, whatever rounds were labeled since), and the round's model's mAP."""
    per_round = simulation.labeled_per_round(ws)
    upto = [per_round.get(_round(ws, k), {"samples": 0, "boxes": 0}) for k in range(r + 1)]
    images = sum(c["samples"] for c in upto)
    return {"round": r, "labeled_images": images,
            "labeled_boxes": sum(c["boxes"] for c in upto), "pool_left": pool_size - images,
            "map50": round(float(trained["map50"]), 5),
            "map50_95": round(float(trained["map50_95"]), 5), "train_run": trained["run"]}


#: What every point of ``curves.json`` must hold for the summary.
POINT_KEYS = ("labeled_images", "labeled_boxes", "map50")


def _complete(points: list[dict[str, Any]], rounds: int) -> bool:
    """Whether a seed's points are all there, each with every key (a ``curves.json`` from an
    older workbench may lack ``labeled_boxes``: those points are recounted from the store)."""
    return len(points) == rounds and all(k in p for p in points for k in POINT_KEYS)


def _check_resumable(out: Path, strategy: str, seed: int, points: list[dict[str, Any]]) -> None:
    """Refuse to recount points that lack a key when their simulation workspace is gone: that
    would silently retrain every round of the seed instead of resuming it."""
    missing = sorted({k for p in points for k in POINT_KEYS if k not in p})
    folder = out / "work" / f"{strategy}-s{seed}"
    if missing and not (folder / "workbench.yaml").is_file():
        raise ConfigError(
            f"{out / CURVES}: the points of {strategy} seed {seed} have no "
            f"{', '.join(missing)} (written by an older workbench) and its simulation "
            f"workspace {folder} is gone, so they cannot be recounted from the store; remove "
            f"curves[{strategy!r}][{str(seed)!r}] from that file to rerun those rounds, or "
            "choose another --out")


def simulate(src: Workspace, cfg: SimConfig, out: Path,
             progress: Progress | None = None) -> SimResult:
    """Run (or continue) the simulation; write ``curves.json``, the plot and the summary.

    Returns:
        The summary (also ``OUT/summary.json``).

    Raises:
        ConfigError: ``out`` holds a simulation with other settings, or the pool is too small.
    """
    out = out.expanduser().resolve()
    settings = cfg.settings()
    state_path = out / STATE
    if state_path.is_file():
        saved = json.loads(state_path.read_text())
        if saved.get("settings") != settings or saved.get("workspace") != str(src.root):
            raise ConfigError(f"{out} holds a simulation with other settings ({state_path}); "
                              "choose another --out to start a new one")
    pool_ids = simulation.labeled_ids(src, cfg.pool)
    needed = cfg.initial + cfg.budget * (cfg.rounds - 1)
    if len(pool_ids) < needed:
        raise ConfigError(f"the pool view {cfg.pool!r} has {len(pool_ids)} labeled images; "
                          f"{cfg.rounds} rounds of {cfg.initial} + {cfg.budget} per round "
                          f"need {needed}")
    if not simulation.has_labeled(src, cfg.val):
        raise ConfigError(f"the validation view {cfg.val!r} has no labeled images")
    from workbench.training.api import resolve_model

    resolve_model(cfg.model)  # a missing .pt or a broken YAML fails before anything is written
    # written only once the inputs are known to be usable: a refused start leaves no state
    out.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({"workspace": str(src.root), "settings": settings},
                                     indent=1))
    oracle = Oracle.from_workspace(src, pool_ids)
    curves_path = out / CURVES
    curves: dict[str, dict[str, list[dict[str, Any]]]] = (
        json.loads(curves_path.read_text()) if curves_path.is_file() else {})
    for strategy, by_seed in curves.items():
        for seed_key, points in by_seed.items():
            _check_resumable(out, strategy, int(seed_key), points)
    total = len(cfg.strategies) * cfg.seeds * cfg.rounds
    done = 0
    started = time.perf_counter()
    for seed in range(cfg.seeds):
        for strategy in cfg.strategies:
            points = curves.setdefault(strategy, {}).setdefault(str(seed), [])
            if _complete(points, cfg.rounds):
                done += cfg.rounds
                continue
            ws = _setup(src, cfg, out, strategy, seed, pool_ids, oracle)
            for r in range(cfg.rounds):
                if progress:
                    progress(done, total, f"round {r + 1}/{cfg.rounds} · {strategy} · "
                                          f"seed {seed + 1}/{cfg.seeds}")
                trained = _train(ws, cfg, r, seed)
                point = _point(ws, r, trained, len(pool_ids))
                points[r:] = [point]
                curves_path.write_text(json.dumps(curves, indent=1))
                if r + 1 < cfg.rounds:
                    _select(ws, cfg, strategy, r, seed, trained["weights"])
                    _label_round(ws, _round(ws, r + 1), oracle)
                done += 1
    if progress:
        progress(total, total, "done")
    summary = summarize(curves, cfg)
    summary.seconds_this_run = round(time.perf_counter() - started, 1)
    from workbench.plots import learning_curves

    summary.plot = str(learning_curves(curves, out / "learning_curves.png"))
    summary.curves = str(curves_path)
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=1))
    return summary


def summarize(curves: dict[str, dict[str, list[dict[str, Any]]]], cfg: SimConfig
              ) -> SimResult:
    """Final mAP50 and labeled boxes per strategy, and each strategy's label saving against
    random counted in images (``label_saving``) and in ground-truth boxes
    (``label_saving_boxes``): per seed, the images (boxes) the strategy needed to reach
    random's final mAP50, linearly interpolated, over random's final images (boxes)."""
    seeds = [str(s) for s in range(cfg.seeds)]

    def series(strategy: str, axis: str) -> list[tuple[list[float], list[float]]]:
        return [([p[axis] for p in curves[strategy][s]],
                 [p["map50"] for p in curves[strategy][s]]) for s in seeds]

    out = SimResult(settings=cfg.settings(), strategies={})
    for strategy in cfg.strategies:
        mine = series(strategy, "labeled_images")
        finals = np.array([y[-1] for _, y in mine])
        boxes = np.array([x[-1] for x, _ in series(strategy, "labeled_boxes")], dtype=float)
        entry: dict[str, Any] = {
            "final_labeled_images": mine[0][0][-1],
            "final_map50_mean": round(float(finals.mean()), 5),
            "final_map50_std": round(float(finals.std()), 5),
            "final_labeled_boxes_mean": round(float(boxes.mean()), 1),
            "final_labeled_boxes_std": round(float(boxes.std()), 1),
        }
        if strategy != "random":
            for key, axis in (("label_saving", "labeled_images"),
                              ("label_saving_boxes", "labeled_boxes")):
                entry[key] = label_saving(series(strategy, axis),
                                          series("random", axis)).to_dict()
        out.strategies[strategy] = entry
    return out
