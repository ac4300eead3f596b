"""How each kind of strategy chooses: from stored scores, from per-box arrays, across an
ensemble, at random. A :class:`Strategy` pairs one of these choosers with its per-box score.

The built-in per-box strategies with ``max`` aggregation (and precomputed per-image strategies
such as ``tta-disagreement``) read the per-image scores computed when the predictions were
written (``scores_<run>``) and select by walking that indexed field; other settings read the
per-box arrays and score them with numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from workbench.core import ranking, scoring
from workbench.core.boxes import xywhn_to_xyxyn
from workbench.errors import ConfigError, WorkbenchError
from workbench.selection.diversity import DIVERSITY, Diversify
from workbench.store import datasets, pool, runs, score_indexes
from workbench.store.predictions import field_name

if TYPE_CHECKING:
    from workbench.registry import Entry
    from workbench.selection.config import SelectConfig
    from workbench.store.workspace import Workspace

#: Per-box score: ``(M, C)`` class vectors -> ``(M,)``, higher = more uncertain.
BoxScore = Callable[[npt.ArrayLike], npt.NDArray[np.float64]]


@dataclass
class Choice:
    """What a chooser picked.

    Attributes:
        picked: sample ids, best first; ``scores``: their scores.
        candidates: how many candidates were considered.
        run: the prediction run(s) scored (``A,B`` for an ensemble), None for random.
        warnings: for the user.
    """

    picked: list[Any]
    scores: list[float]
    candidates: int
    run: str | None = None
    warnings: list[str] = field(default_factory=list)


#: ``(workspace, config, rng, the strategy's registry entry) -> Choice``
Chooser = Callable[["Workspace", "SelectConfig", np.random.Generator, "Entry[Strategy]"], Choice]


@dataclass(frozen=True)
class Strategy:
    """A selection strategy.

    Attributes:
        choose: how it chooses (:func:`by_scores`, :func:`ensemble`, :func:`at_random`).
        box_score: per-box score, for per-box strategies (aggregated per image).
    """

    choose: Chooser
    box_score: BoxScore | None = None


def latest_prediction_run(ws: Workspace) -> str:
    """The most recent finished run that wrote predictions with scores (not one that is
    still running, or was interrupted and awaits ``predict --resume``)."""
    docs = [d for d in runs.list_runs(ws) if d["kind"] in runs.PREDICTION_KINDS
            and d.get("status", "completed") == "completed"]
    if not docs:
        raise WorkbenchError("no predictions to score: run `workbench predict` over the pool "
                             "(or `workbench predictions import`), or use --random N")
    return str(docs[-1]["_id"])


def by_scores(ws: Workspace, config: SelectConfig, rng: np.random.Generator,
              entry: Entry[Strategy]) -> Choice:
    """Score one prediction run: walk its stored per-image scores when they answer the
    selection (``config.fast``), else score its per-box arrays."""
    from workbench.selection.precompute import presence_key

    run = config.run or latest_prediction_run(ws)
    scores_field = field_name("scores", run)
    if not datasets.has_sample_field(ws, scores_field):
        raise WorkbenchError(f"run {run!r} stored no predictions in this workspace")
    key = entry.meta["score_key"]
    if entry.meta["needs_tta"] and not pool.has_score(ws, scores_field, key):
        raise WorkbenchError(f"run {run!r} has no TTA passes; predict with --tta first")
    # the walks' indexes may have been evicted to keep within MongoDB's index limit
    score_indexes.ensure_run_indexes(ws, scores_field, [key, presence_key()] if config.fast
                                     else [presence_key()])
    if config.fast:
        picked, scores = pool.top_scored(ws, scores_field, key, config.n)
        choice = Choice(picked, scores, pool.count_scored(ws, scores_field, key), run)
    else:
        if entry.value.box_score is None:
            raise ConfigError(f"--strategy {config.strategy} reads stored per-image scores "
                              "only; drop the per-box options")
        choice = _per_box(ws, config, run, rng, entry.value.box_score)
    missing = pool.count_unscored(ws, scores_field, presence_key())
    if missing:
        choice.warnings.append(f"{missing} pool images have no predictions from run {run!r} "
                               "and were not considered; predict them first")
    return choice


def _per_box(ws: Workspace, config: SelectConfig, run: str, rng: np.random.Generator,
             box_score: BoxScore) -> Choice:
    """Score from per-box arrays (any aggregation/weights/band/diversity)."""
    data = pool.candidate_boxes(ws, field_name("pred", run), config.embeddings)
    ids: list[Any] = data["ids"]
    idx: npt.NDArray[np.int64] = data["sample_index"]
    c: npt.NDArray[np.float64] = data["confidence"]
    labels: list[str] = data["label"]
    probs: list[list[float]] = data["class_probs"]
    if config.calibrated:
        c, probs_arr = _calibrated(ws, run, c, labels, probs)
        probs = probs_arr.tolist() if probs_arr is not None else probs
    if config.conf_band:
        per_box = scoring.in_band(c, *config.conf_band)
        how, k = "sum", 3
    else:
        if probs and len(probs) == len(c):
            per_box = box_score(np.asarray(probs, dtype=np.float64))
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
    elif (diversify := DIVERSITY.get(config.diversity)) is not None:
        chosen = _diverse(per_image, data["embeddings"], config, diversify, rng)
    else:  # ties by sample id, exactly like the indexed fast path
        chosen = np.argsort(-per_image, kind="stable")[:config.n]
    return Choice([ids[i] for i in chosen], per_image[chosen].tolist(), len(ids), run)


def _calibrated(ws: Workspace, run: str, conf: npt.NDArray[np.float64], labels: list[str],
                probs: list[list[float]]
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """``(M,)`` confidences and ``(M, C)`` class vectors (None without them) after the run's
    stored calibration.

    Raises:
        ConfigError: the run has no calibration (says how to make one).
    """
    from workbench.calibration import api as calibration

    if calibration.predicted_under(ws, run):  # predicted under a calibration already
        return conf, np.asarray(probs, dtype=np.float64) if probs and len(probs) == len(
            conf) else None
    found = calibration.for_run(ws, run)
    if found is None:
        raise ConfigError(f"run {run!r} has no calibration; fit one with `workbench calibrate "
                          f"--run {run}` (on labeled images of the same model), or drop "
                          "--calibrated")
    _, calibrator = found
    cls = calibration.class_ids(labels, ws.classes)
    vectors = (calibrator.apply_probs(np.asarray(probs, dtype=np.float64))
               if probs and len(probs) == len(conf) else None)
    return calibrator.apply(conf, cls), vectors


def _diverse(per_image: npt.NDArray[np.float64], emb: list[Any], config: SelectConfig,
             diversify: Diversify, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Pick ``config.n`` of the ``5n`` most uncertain images with ``diversify``."""
    missing = sum(1 for e in emb if e is None)
    if missing:
        raise WorkbenchError(f"{missing} candidates have no {config.embeddings!r}; compute "
                             "embeddings for the whole pool (`workbench predict --embeddings`)")
    x = np.asarray(emb, dtype=np.float64)
    shortlist = ranking.top_n(per_image, min(len(per_image), max(config.n * 5, config.n)), rng)
    return np.asarray(shortlist[diversify(x[shortlist], per_image[shortlist], config.n, rng)],
                      dtype=np.int64)


def ensemble(ws: Workspace, config: SelectConfig, rng: np.random.Generator,
             entry: Entry[Strategy]) -> Choice:
    """Per-image disagreement between the ensemble members' prediction runs (``--run A,B``)."""
    from workbench.core.agreement import disagreement

    members = [r.strip() for r in (config.run or "").split(",")]
    fields = [field_name("pred", m) for m in members]
    missing = [m for m, f in zip(members, fields, strict=True)
               if not datasets.has_sample_field(ws, f)]
    if missing:
        raise WorkbenchError(f"no stored predictions for runs {missing}")
    class_index = {c: i for i, c in enumerate(ws.classes)}
    passes = []
    ids: list[Any] = []
    for data in pool.candidate_box_arrays(ws, fields):  # every member lists the same samples
        ids = data["ids"]
        cls = np.array([class_index.get(str(x), -1) for x in data["label"]], dtype=np.int64)
        passes.append((xywhn_to_xyxyn(data["xywhn"]), cls, data["sample_index"]))
    per_image = disagreement(passes, len(ids))
    chosen = np.argsort(-per_image, kind="stable")[:config.n]
    return Choice([ids[i] for i in chosen], per_image[chosen].tolist(), len(ids),
                  ",".join(members))


def at_random(ws: Workspace, config: SelectConfig, rng: np.random.Generator,
              entry: Entry[Strategy]) -> Choice:
    """``n`` candidates drawn uniformly (the baseline); scores are 0."""
    ids = pool.candidate_ids(ws)
    chosen = ranking.random_n(len(ids), config.n, rng)
    return Choice([ids[i] for i in chosen], [0.0] * len(chosen), len(ids))


def by_hand(ws: Workspace, config: SelectConfig, rng: np.random.Generator,
            entry: Entry[Strategy]) -> Choice:
    """The given ``config.sample_ids`` that are candidates, in the order given (the App's
    selection: lasso in the Embeddings panel, or picked in the grid); the others are named in
    a warning."""
    ids = pool.candidate_ids(ws)
    by_text = {str(i): i for i in ids}
    wanted = list(dict.fromkeys(config.sample_ids))
    picked = [by_text[s] for s in wanted if s in by_text][:config.n]
    warnings = []
    skipped = [s for s in wanted if s not in by_text]
    if skipped:
        warnings.append(f"{len(skipped)} of the {len(wanted)} chosen images are not unlabeled "
                        f"pool images (labeled, queued already or not in the pool) and were left "
                        f"out: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return Choice(picked, [1.0] * len(picked), len(ids), None, warnings)
