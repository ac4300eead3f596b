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
simulation from where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.curves import label_saving
from workbench.errors import ConfigError
from workbench.loop.oracle import Oracle
from workbench.selection.select import IMAGE_STRATEGIES, STRATEGIES, SelectConfig, select
from workbench.store import bulk, query, runs, schema, views
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace, drop_dataset, init_workspace, open_workspace

STATE = "simulation.json"
CURVES = "curves.json"
_COPIED = ("filepath", "_media_type", "_rand", "metadata", "created_at", "last_modified_at",
           schema.SOURCE, schema.SOURCE_ID, schema.CONTENT_HASH, schema.GROUP, schema.INGEST_RUN)
#: step, done, total, description
Progress = Callable[[int, int, str], None]


@dataclass
class SimConfig:
    """Options of ``workbench loop --simulate``.

    Attributes:
        rounds: training rounds per simulation (the first on the initial set).
        initial: images in the random initial set; ``budget``: images selected per round.
        strategies: selection strategies to compare; must include ``random``.
        seeds: independent repetitions (initial set and training seed).
        model, imgsz, epochs, patience, batch: training settings, the same for every round.
        pool: the source view whose images form the pool (their labels are the oracle's).
        val: the source view used as the fixed validation set.
        overrides: further Ultralytics training arguments; by default ``val: False``
            (validation once, after the last epoch: the round's model is its last epoch).
    """

    rounds: int = 5
    initial: int = 50
    budget: int = 50
    strategies: tuple[str, ...] = ("entropy", "random")
    seeds: int = 3
    model: str = "configs/models/micro-relu.yaml"
    imgsz: int = 320
    epochs: int = 30
    patience: int = 0
    batch: int = 16
    pool: str = "split:train"
    val: str = "split:val"
    overrides: dict[str, Any] = field(default_factory=lambda: {"val": False})

    def __post_init__(self) -> None:
        valid = (*STRATEGIES, *IMAGE_STRATEGIES[:1], "random")
        unknown = [s for s in self.strategies if s not in valid]
        if unknown:
            raise ConfigError(f"unknown strategies {unknown}; valid: {', '.join(valid)}")
        if "random" not in self.strategies:
            raise ConfigError("--strategies must include random: label saving is measured "
                              "against it")
        for name in ("rounds", "initial", "budget", "seeds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive")


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
        ds_id = ws.dataset._doc.id
        docs = []
        pool = set(pool_ids)
        fields = {f: 1 for f in (*_COPIED, schema.GROUND_TRUTH, schema.SPLIT)}
        for d in src.samples.find(views.labeled_match(cfg.val), fields):
            if d["_id"] in pool:
                continue
            docs.append({**d, "_dataset_id": ds_id, schema.STATUS: "labeled",
                         schema.SPLIT: "val", "tags": ["val", "labeled"],
                         schema.ROUND_SELECTED: None})
        for d in src.samples.find({"_id": {"$in": pool_ids}}, {f: 1 for f in _COPIED}):
            docs.append({**d, "_dataset_id": ds_id, schema.STATUS: "unlabeled",
                         schema.SPLIT: "pool", "tags": ["pool", "unlabeled"],
                         schema.GROUND_TRUTH: None, schema.ROUND_SELECTED: None})
        bulk.insert_documents(ws, docs)
    if not ws.samples.find_one({schema.ROUND_SELECTED: _round(ws, 0)}):
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(pool_ids), size=cfg.initial, replace=False).tolist())
        query.update_ids(ws, [pool_ids[k] for k in chosen], [{"$set": {
            schema.STATUS: "queued", schema.ROUND_SELECTED: _round(ws, 0),
            "tags": query.retag(list(schema.STATUSES), ["queued", _round(ws, 0)])}}])
    _label_round(ws, _round(ws, 0), oracle)
    return ws


def _round(ws: Workspace, r: int) -> str:
    """Round names double as run ids, which are unique per database: prefix the dataset."""
    return f"{ws.config.name}-r{r}"


def _label_round(ws: Workspace, round_name: str, oracle: Oracle) -> None:
    pending = ws.samples.count_documents({schema.ROUND_SELECTED: round_name,
                                          schema.STATUS: {"$ne": "labeled"}})
    if pending:
        oracle.annotate(ws, round_name, ws.root / "packages")


def _train(ws: Workspace, cfg: SimConfig, r: int, seed: int) -> dict[str, Any]:
    from workbench.training.runner import TrainConfig, last_checkpoint, train

    name = f"{ws.config.name}-train-r{r}"
    doc = runs.get_run(ws, name, RunKind.TRAIN)
    if doc is not None and doc.get("status") == "completed":
        return dict(doc["outputs"])
    resume = doc is not None and last_checkpoint(ws, name).is_file()
    if doc is not None and not resume:  # interrupted before its first checkpoint: start over
        ws.runs.delete_one({"_id": name, "dataset": ws.config.name})
    config = TrainConfig(view="split:train", val="split:val", model=cfg.model, imgsz=cfg.imgsz,
                         epochs=cfg.epochs, patience=cfg.patience, batch=cfg.batch, run=name,
                         seed=seed, allow_missing_classes=True, overrides=dict(cfg.overrides),
                         resume=resume)
    return train(ws, config).to_dict()


def _select(ws: Workspace, cfg: SimConfig, strategy: str, r: int, seed: int,
            model_weights: str) -> None:
    from workbench.prediction.predict import predict

    name = _round(ws, r + 1)
    if runs.get_run(ws, name, RunKind.SELECT) is not None:
        return
    run = None
    if strategy != "random":
        run = f"{ws.config.name}-pred-r{r}"
        predict(ws, model_weights, run=run, view="pool,status:unlabeled", imgsz=cfg.imgsz,
                replace=True, tta=strategy == "tta-disagreement")
    select(ws, SelectConfig(n=cfg.budget, run=run, strategy=strategy, round=name, seed=seed))


def _point(ws: Workspace, r: int, trained: dict[str, Any]) -> dict[str, Any]:
    train = query.grouped_counts(ws, schema.SPLIT, {schema.STATUS: "labeled"}).get(
        "train", {"samples": 0, "boxes": 0})
    counts = query.grouped_counts(ws, schema.STATUS)
    return {"round": r, "labeled_images": train["samples"],
            "labeled_boxes": train["boxes"], "pool_left": counts.get("unlabeled", {}).get(
                "samples", 0), "map50": round(float(trained["map50"]), 5),
            "map50_95": round(float(trained["map50_95"]), 5), "train_run": trained["run"]}


def simulate(src: Workspace, cfg: SimConfig, out: Path,
             progress: Progress | None = None) -> dict[str, Any]:
    """Run (or continue) the simulation; write ``curves.json``, the plot and the summary.

    Returns:
        The summary (also ``OUT/summary.json``).

    Raises:
        ConfigError: ``out`` holds a simulation with other settings, or the pool is too small.
    """
    out = out.expanduser().resolve()
    settings = asdict(cfg)
    settings["strategies"] = list(cfg.strategies)
    state_path = out / STATE
    if state_path.is_file():
        saved = json.loads(state_path.read_text())
        if saved.get("settings") != settings or saved.get("workspace") != str(src.root):
            raise ConfigError(f"{out} holds a simulation with other settings ({state_path}); "
                              "choose another --out to start a new one")
    pool_ids = [d["_id"] for d in src.samples.find(views.labeled_match(cfg.pool),
                                                   {"_id": 1}).sort("_id", 1)]
    needed = cfg.initial + cfg.budget * (cfg.rounds - 1)
    if len(pool_ids) < needed:
        raise ConfigError(f"the pool view {cfg.pool!r} has {len(pool_ids)} labeled images; "
                          f"{cfg.rounds} rounds of {cfg.initial} + {cfg.budget} per round "
                          f"need {needed}")
    if not src.samples.find_one(views.labeled_match(cfg.val)):
        raise ConfigError(f"the validation view {cfg.val!r} has no labeled images")
    # written only once the inputs are known to be usable: a refused start leaves no state
    out.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({"workspace": str(src.root), "settings": settings},
                                     indent=1))
    oracle = Oracle.from_workspace(src, {"_id": {"$in": pool_ids}})
    curves_path = out / CURVES
    curves: dict[str, dict[str, list[dict[str, Any]]]] = (
        json.loads(curves_path.read_text()) if curves_path.is_file() else {})
    total = len(cfg.strategies) * cfg.seeds * cfg.rounds
    done = 0
    started = time.perf_counter()
    for seed in range(cfg.seeds):
        for strategy in cfg.strategies:
            points = curves.setdefault(strategy, {}).setdefault(str(seed), [])
            if len(points) == cfg.rounds:
                done += cfg.rounds
                continue
            ws = _setup(src, cfg, out, strategy, seed, pool_ids, oracle)
            for r in range(cfg.rounds):
                if progress:
                    progress(done, total, f"round {r + 1}/{cfg.rounds} · {strategy} · "
                                          f"seed {seed + 1}/{cfg.seeds}")
                trained = _train(ws, cfg, r, seed)
                point = _point(ws, r, trained)
                points[r:] = [point]
                curves_path.write_text(json.dumps(curves, indent=1))
                if r + 1 < cfg.rounds:
                    _select(ws, cfg, strategy, r, seed, trained["weights"])
                    _label_round(ws, _round(ws, r + 1), oracle)
                done += 1
    if progress:
        progress(total, total, "done")
    summary = summarize(curves, cfg)
    summary["seconds_this_run"] = round(time.perf_counter() - started, 1)
    from workbench.plots import learning_curves

    summary["plot"] = str(learning_curves(curves, out / "learning_curves.png"))
    summary["curves"] = str(curves_path)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def summarize(curves: dict[str, dict[str, list[dict[str, Any]]]], cfg: SimConfig
              ) -> dict[str, Any]:
    """Final mAP per strategy and the label saving of each strategy against random."""
    seeds = [str(s) for s in range(cfg.seeds)]

    def series(strategy: str, metric: str = "map50") -> list[tuple[list[float], list[float]]]:
        return [([p["labeled_images"] for p in curves[strategy][s]],
                 [p[metric] for p in curves[strategy][s]]) for s in seeds]

    out: dict[str, Any] = {"settings": {**asdict(cfg), "strategies": list(cfg.strategies)},
                           "strategies": {}}
    random = series("random")
    for strategy in cfg.strategies:
        mine = series(strategy)
        finals = np.array([y[-1] for _, y in mine])
        entry: dict[str, Any] = {
            "final_labeled_images": mine[0][0][-1],
            "final_map50_mean": round(float(finals.mean()), 5),
            "final_map50_std": round(float(finals.std()), 5),
        }
        if strategy != "random":
            entry["label_saving"] = label_saving(mine, random).to_dict()
        out["strategies"][strategy] = entry
    return out
