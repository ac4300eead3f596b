"""``workbench select``: choose pool images to label, by uncertainty (or at random).

Only ``status=unlabeled`` pool images are candidates. Chosen images become ``queued`` with
``round_selected=<round>`` and a tag of the round's name; the round is recorded as a run.

The built-in strategies with ``max`` aggregation read the per-image scores computed when the
predictions were written (``scores_<run>``) and select by sorting that indexed field; other
settings read the per-box arrays and score them with numpy.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from workbench.core import diversity, ranking, scoring
from workbench.core.boxes import xywhn_to_xyxyn
from workbench.errors import ConfigError, WorkbenchError
from workbench.store import predictions, query, runs, schema
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

STRATEGIES = ("least-confidence", "margin", "entropy")
#: Per-image strategies: no per-box scores to aggregate, weight or balance.
IMAGE_STRATEGIES = ("tta-disagreement", "ensemble-disagreement")
DIVERSITY = ("none", "coreset", "cluster")
CANDIDATES = {schema.STATUS: "unlabeled", schema.SPLIT: "pool"}


@dataclass
class SelectConfig:
    """Options of ``workbench select``.

    Attributes:
        n: how many images to select.
        run: prediction run to score (default: the latest).
        strategy: ``least-confidence`` | ``margin`` | ``entropy``, or ``random``.
        aggregate: ``max`` | ``mean`` | ``sum`` | ``topk:K`` over an image's boxes.
        diversity: ``none`` | ``coreset`` | ``cluster`` (needs ``embeddings``).
        embeddings: the embedding field for diversity.
        class_balance: fill equal quotas per predicted class.
        class_weights: class name -> weight multiplying its boxes' scores.
        conf_band: score = number of boxes with confidence in ``[lo, hi]``.
        empty_score: score of images without a predicted box (default: uncertain).
        round: round name (default ``round-K``); ``replace``: overwrite an existing round.
        seed: tie-breaks and random picks; ``dry_run``: choose but write nothing.
    """

    n: int
    run: str | None = None
    strategy: str = "entropy"
    aggregate: str = "max"
    diversity: str = "none"
    embeddings: str | None = None
    class_balance: bool = False
    class_weights: dict[str, float] = field(default_factory=dict)
    conf_band: tuple[float, float] | None = None
    empty_score: float = 1.0
    round: str | None = None
    replace: bool = False
    seed: int = 0
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ConfigError(f"select needs a positive number of images, got {self.n}")
        valid = (*STRATEGIES, *IMAGE_STRATEGIES, "random")
        if self.strategy not in valid:
            raise ConfigError(f"unknown strategy {self.strategy!r}; valid: {', '.join(valid)}")
        if self.strategy in IMAGE_STRATEGIES and (
                self.class_balance or self.class_weights or self.conf_band
                or self.diversity != "none" or self.aggregate != "max"):
            raise ConfigError(f"--strategy {self.strategy} scores whole images; it does not "
                              "combine with --aggregate, --class-weight, --conf-band, "
                              "--class-balance or --diversity")
        if self.strategy == "ensemble-disagreement" and len((self.run or "").split(",")) < 2:
            raise ConfigError("--strategy ensemble-disagreement needs --run A,B[,C...]: the "
                              "prediction runs of the ensemble members")
        if self.diversity not in DIVERSITY:
            raise ConfigError(f"unknown diversity {self.diversity!r}; valid: "
                              f"{', '.join(DIVERSITY)}")
        if self.diversity != "none" and not self.embeddings:
            raise ConfigError(f"--diversity {self.diversity} needs --embeddings FIELD "
                              "(see `workbench predict --embeddings`)")
        try:
            scoring.parse_aggregate(self.aggregate)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if self.conf_band and not 0 <= self.conf_band[0] <= self.conf_band[1] <= 1:
            raise ConfigError(f"--conf-band needs 0 <= LO <= HI <= 1, got {self.conf_band}")

    @property
    def fast(self) -> bool:
        """Whether the precomputed, indexed per-image scores answer this selection."""
        if self.strategy == "tta-disagreement":
            return True
        return (self.strategy in STRATEGIES and self.aggregate == "max"
                and self.diversity == "none" and not self.class_balance
                and not self.class_weights and self.conf_band is None and self.empty_score == 1.0)


@dataclass
class SelectResult:
    """What :func:`select` chose."""

    round: str
    selected: int
    sample_ids: list[str]
    strategy: str
    seconds: float
    scores: list[float] = field(default_factory=list)
    run: str | None = None
    candidates: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def latest_prediction_run(ws: Workspace) -> str:
    """The most recent run that wrote predictions with scores."""
    docs = [d for d in runs.list_runs(ws) if d["kind"] in runs.PREDICTION_KINDS]
    if not docs:
        raise WorkbenchError("no predictions to score: run `workbench predict` over the pool "
                             "(or `workbench predictions import`), or use --random N")
    return str(docs[-1]["_id"])


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
    warnings: list[str] = []
    run = None
    if config.strategy == "random":
        ids = [d["_id"] for d in ws.samples.find(CANDIDATES, {"_id": 1}).sort("_id", 1)]
        chosen = ranking.random_n(len(ids), config.n, rng)
        picked, scores, n_candidates = [ids[i] for i in chosen], [0.0] * len(chosen), len(ids)
    elif config.strategy == "ensemble-disagreement":
        members = [r.strip() for r in (config.run or "").split(",")]
        picked, scores, n_candidates = _ensemble(ws, config, members)
        run = ",".join(members)
    else:
        run = config.run or latest_prediction_run(ws)
        scores_field = predictions.field_name("scores", run)
        if scores_field not in ws.dataset.get_field_schema():
            raise WorkbenchError(f"run {run!r} stored no predictions in this workspace")
        if config.strategy == "tta-disagreement" and not ws.samples.find_one(
                {f"{scores_field}.{predictions.TTA_KEY}": {"$exists": True}}, {"_id": 1}):
            raise WorkbenchError(f"run {run!r} has no TTA passes; predict with --tta first")
        if config.fast:
            picked, scores, n_candidates = _fast(ws, config, scores_field)
        else:
            picked, scores, n_candidates = _scored(ws, config, run, rng)
        missing = ws.samples.count_documents(
            {**CANDIDATES, f"{scores_field}.entropy": None},
            hint=predictions.score_index_name(scores_field, "entropy"))
        if missing:
            warnings.append(f"{missing} pool images have no predictions from run {run!r} and "
                            "were not considered; predict them first")
    if n_candidates == 0:
        raise WorkbenchError("the pool has no unlabeled images to select from; ingest some "
                             "with `workbench ingest DIR --format images`")
    if config.n > len(picked):
        warnings.append(f"asked for {config.n} images but only {len(picked)} candidates exist; "
                        "selected them all")
    result = SelectResult(round=round_name, selected=len(picked),
                          sample_ids=[str(i) for i in picked], strategy=config.strategy,
                          seconds=0.0, scores=[float(s) for s in scores], run=run,
                          candidates=n_candidates, warnings=warnings, dry_run=config.dry_run)
    if not config.dry_run:
        if previous is not None:
            _release(ws, round_name)
            ws.runs.delete_one({"_id": round_name})
        _queue(ws, picked, round_name)
        params = {k: v for k, v in asdict(config).items() if k != "n"} | {"n": config.n}
        runs.record_run(ws, RunKind.SELECT, round_name, params,
                        {"selected": len(picked), "sample_ids": result.sample_ids,
                         "scores": result.scores, "model_run": run}, started_at)
    result.seconds = round(time.perf_counter() - started, 4)
    return result


def _fast(ws: Workspace, config: SelectConfig, scores_field: str) -> tuple[list[Any], list[float],
                                                                           int]:
    name = predictions.SCORE_KEYS.get(config.strategy, predictions.TTA_KEY)
    key = f"{scores_field}.{name}"
    index = predictions.score_index_name(scores_field, name)
    # Equality on status/split, then the score in index order: a walk of n index entries.
    # Images without scores sort last (missing < any number) and are dropped below.
    cursor = ws.samples.find(CANDIDATES, {"_id": 1, key: 1}).sort(
        [(key, -1), ("_id", 1)]).hint(index).limit(config.n)
    picked, scores = [], []
    for doc in cursor:
        value = (doc.get(scores_field) or {}).get(name)
        if value is None:
            break
        picked.append(doc["_id"])
        scores.append(float(value))
    query = {**CANDIDATES, key: {"$ne": None}}
    return picked, scores, ws.samples.count_documents(query, hint=index)


def _scored(ws: Workspace, config: SelectConfig, run: str,
            rng: np.random.Generator) -> tuple[list[Any], list[float], int]:
    """Score from per-box arrays (any strategy/aggregation/weights/band/diversity)."""
    field = predictions.field_name("pred", run)
    projection: dict[str, Any] = {"_id": 1, f"{field}.detections.confidence": 1,
                                  f"{field}.detections.class_probs": 1,
                                  f"{field}.detections.label": 1}
    if config.embeddings:
        projection[config.embeddings] = 1
    query = {**CANDIDATES, field: {"$exists": True}}
    ids: list[Any] = []
    index: list[int] = []
    conf: list[float] = []
    labels: list[str] = []
    probs: list[list[float]] = []
    emb: list[Any] = []
    for n, doc in enumerate(ws.samples.find(query, projection).sort("_id", 1)):
        ids.append(doc["_id"])
        if config.embeddings:
            emb.append(doc.get(config.embeddings))
        for d in (doc.get(field) or {}).get("detections") or []:
            index.append(n)
            conf.append(float(d.get("confidence") or 0.0))
            labels.append(d.get("label") or "")
            if d.get("class_probs") is not None:
                probs.append(d["class_probs"])
    idx = np.asarray(index, dtype=np.int64)
    c = np.asarray(conf)
    if config.conf_band:
        per_box = scoring.in_band(c, *config.conf_band)
        how, k = "sum", 3
    else:
        if probs and len(probs) == len(conf):
            per_box = scoring.BOX_SCORES[config.strategy](np.asarray(probs, dtype=np.float64))
        else:
            per_box = scoring.confidence_uncertainty(c)
        how, k = scoring.parse_aggregate(config.aggregate)
    if config.class_weights:
        unknown = sorted(set(config.class_weights) - set(ws.classes))
        if unknown:
            raise ConfigError(f"--class-weight names unknown classes {unknown}; classes: "
                              f"{ws.classes}")
        weight = np.array([config.class_weights.get(lb, 1.0) for lb in labels])
        per_box = per_box * weight
    per_image = scoring.aggregate(per_box, idx, len(ids), how, k=k, empty=config.empty_score)
    if config.class_balance:
        top = np.full(len(ids), -1, dtype=np.int64)
        if len(idx):
            order = np.lexsort((c, idx))  # last box of each image = its most confident
            last = np.r_[idx[order][1:] != idx[order][:-1], True]
            cls_index = {name: i for i, name in enumerate(ws.classes)}
            top[idx[order][last]] = [cls_index.get(labels[j], -1) for j in order[last]]
        chosen = ranking.class_balanced(per_image, top, len(ws.classes), config.n, rng)
    elif config.diversity != "none":
        chosen = _diverse(per_image, emb, config, rng)
    else:  # ties by sample id, exactly like the indexed fast path
        chosen = np.argsort(-per_image, kind="stable")[:config.n]
    return [ids[i] for i in chosen], per_image[chosen].tolist(), len(ids)


def _ensemble(ws: Workspace, config: SelectConfig,
              members: list[str]) -> tuple[list[Any], list[float], int]:
    """Per-image disagreement between the ensemble members' prediction runs."""
    from workbench.core.agreement import disagreement

    fields = [predictions.field_name("pred", m) for m in members]
    schema_fields = ws.dataset.get_field_schema()
    missing = [m for m, f in zip(members, fields, strict=True) if f not in schema_fields]
    if missing:
        raise WorkbenchError(f"no stored predictions for runs {missing}")
    match = {**CANDIDATES, "$and": [{f: {"$exists": True}} for f in fields]}
    class_index = {c: i for i, c in enumerate(ws.classes)}
    passes = []
    ids: list[Any] = []
    for f in fields:  # same filter, same sort by id: every member lists the same samples
        data = query.box_arrays(ws, match, field=f)
        ids = data["ids"]
        cls = np.array([class_index.get(str(x), -1) for x in data["label"]], dtype=np.int64)
        passes.append((xywhn_to_xyxyn(data["xywhn"]), cls, data["sample_index"]))
    per_image = disagreement(passes, len(ids))
    chosen = np.argsort(-per_image, kind="stable")[:config.n]
    return [ids[i] for i in chosen], per_image[chosen].tolist(), len(ids)


def _diverse(per_image: np.ndarray, emb: list[Any], config: SelectConfig,
             rng: np.random.Generator) -> np.ndarray:
    missing = sum(1 for e in emb if e is None)
    if missing:
        raise WorkbenchError(f"{missing} candidates have no {config.embeddings!r}; compute "
                             "embeddings for the whole pool (`workbench predict --embeddings`)")
    x = np.asarray(emb, dtype=np.float64)
    pool = ranking.top_n(per_image, min(len(per_image), max(config.n * 5, config.n)), rng)
    if config.diversity == "coreset":
        local = diversity.k_center_greedy(x[pool], config.n, rng)
    else:
        local = diversity.cluster_pick(x[pool], per_image[pool], config.n, rng)
    return pool[local]


def _queue(ws: Workspace, ids: list[Any], round_name: str) -> None:
    query.update_ids(ws, ids, [{"$set": {
        schema.STATUS: "queued", schema.ROUND_SELECTED: round_name,
        "last_modified_at": query.now(),
        "tags": query.retag(list(schema.STATUSES), ["queued", round_name])}}])


def _release(ws: Workspace, round_name: str) -> None:
    """Put a replaced round's still-queued images back into the unlabeled pool."""
    ws.samples.update_many(
        {schema.ROUND_SELECTED: round_name, schema.STATUS: "queued"},
        [{"$set": {schema.STATUS: "unlabeled", schema.ROUND_SELECTED: None,
                   "last_modified_at": query.now(),
                   "tags": query.retag(["queued", round_name], ["unlabeled"])}}])
