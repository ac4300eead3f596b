"""``workbench calibrate``: fit a confidence map on one half of a view, measure it on the other.

Every stored box of the run on the view's labeled images is matched to the ground truth
(:func:`~workbench.core.cocoeval.match_detections`, in pixels): a match is a positive, anything
else a negative. The images are split at random into a fitting half and a held-out half (by
image, so that the boxes of one image never sit on both sides); every method of
:data:`~workbench.core.calibration.METHODS` is fitted on the first and measured on the second,
and the chosen one is stored with the run as a ``calibrate`` run. Confidences are the run's raw
ones (``raw_confidence`` where the run was predicted under an earlier calibration).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.calibration.config import CalibrateConfig, CalibrateResult
from workbench.core import calibration as cal
from workbench.core.cocoeval import match_detections
from workbench.core.labels import class_ids
from workbench.errors import WorkbenchError
from workbench.store import runs, schema
from workbench.store.predictions import field_name
from workbench.store.run_boxes import view_field_arrays
from workbench.store.runs import PREDICTION_KINDS, RunKind
from workbench.store.workspace import Workspace

#: Per-box attribute holding the uncalibrated confidence of a run predicted under a calibration.
RAW = "raw_confidence"


def _pixel_sizes(data: dict[str, Any]) -> np.ndarray:
    """``(N, 2)`` width and height of each image: metadata, else probed from the file."""
    wh = np.c_[data["width"], data["height"]]
    missing = np.flatnonzero(np.isnan(wh).any(axis=1))
    if len(missing):
        from workbench.media.probe import probe

        infos = probe([Path(data["filepath"][i]) for i in missing])
        wh[missing] = [(i.width or np.nan, i.height or np.nan) for i in infos]
    return wh


def matched_boxes(ws: Workspace, run: str, view: str, iou: float,
                  min_conf: float = 0.0) -> dict[str, Any]:
    """The run's boxes on the view's labeled images with their outcome.

    Returns:
        ``{"images": N, "image": (M,), "conf": (M,) raw confidence, "cls": (M,),
        "positive": (M,) bool, "centre": (M, 2) normalised box centre, "n_gt": (K,)}``.

    Raises:
        WorkbenchError: the run has no boxes on the view's labeled images.
    """
    pred = field_name("pred", run)
    data = view_field_arrays(ws, view, [schema.GROUND_TRUTH, pred], attrs=("confidence", RAW),
                             labeled=True, require=[pred])
    p, g = data[pred], data[schema.GROUND_TRUTH]
    if not data["ids"]:
        raise WorkbenchError(f"run {run!r} has no predictions on the labeled images of "
                             f"{view!r}; predict them first: workbench predict --model MODEL "
                             f"--view {view} --run NAME, then calibrate that run")
    conf = np.where(np.isnan(p[RAW]), p["confidence"], p[RAW])
    pk, gk = class_ids(p["label"], ws.classes), class_ids(g["label"], ws.classes)
    keep = (pk >= 0) & np.isfinite(conf) & (conf >= min_conf) & np.isfinite(p["xyxyn"]).all(1)
    scale = np.tile(_pixel_sizes(data), 2)
    positive = match_detections(p["sample_index"][keep], p["xyxyn"][keep] * scale[
        p["sample_index"][keep]], conf[keep], pk[keep], g["sample_index"][gk >= 0],
        g["xyxyn"][gk >= 0] * scale[g["sample_index"][gk >= 0]], gk[gk >= 0], iou=iou)
    box = p["xyxyn"][keep]
    return {"images": len(data["ids"]), "image": p["sample_index"][keep], "conf": conf[keep],
            "cls": pk[keep], "positive": np.asarray(positive, dtype=bool),
            "centre": np.clip((box[:, :2] + box[:, 2:]) / 2, 0.0, 1.0),
            "n_gt": np.bincount(gk[gk >= 0], minlength=len(ws.classes))}


def _scores(conf: np.ndarray, positive: np.ndarray, config: CalibrateConfig,
            centre: np.ndarray) -> dict[str, float | None]:
    """``{"dece", "brier"}`` (None without boxes)."""
    if not len(conf):
        return {"dece": None, "brier": None}
    position = centre if config.position else None
    return {"dece": round(float(cal.dece(conf, positive, config.bins, position=position,
                                         position_bins=config.position_bins)), 6),
            "brier": round(float(cal.brier(conf, positive)), 6)}


def run_calibrate(ws: Workspace, config: CalibrateConfig) -> CalibrateResult:
    """Fit, measure and store a calibration of ``config.run`` (see the module docstring).

    Raises:
        WorkbenchError: not a prediction run, no boxes on the view, too few images to split,
            an existing calibration without ``replace``.
    """
    started, started_at = time.perf_counter(), dt.datetime.now(dt.UTC)
    doc = runs.get_run(ws, config.run)
    if doc is None or doc.get("kind") not in PREDICTION_KINDS:
        names = [str(d["_id"]) for d in runs.list_runs(ws) if d["kind"] in PREDICTION_KINDS]
        raise WorkbenchError(f"{config.run!r} is not a prediction run of this workspace; "
                             f"prediction runs: {', '.join(names) or 'none (workbench predict)'}")
    name = config.run_name
    existing = runs.get_run(ws, name)
    if existing is not None and not config.replace:
        raise WorkbenchError(f"a run named {name!r} exists; pass --replace or --name")
    if existing is not None and existing.get("kind") != RunKind.CALIBRATE:
        raise WorkbenchError(f"{name!r} names a {existing.get('kind')} run; choose another --name")
    boxes = matched_boxes(ws, config.run, config.view, config.iou, config.min_conf)
    if boxes["images"] < 2:
        raise WorkbenchError(f"{config.view!r} has {boxes['images']} labeled image(s) with "
                             "predictions; calibration needs at least 2 (one per half)")
    fit_img = cal.image_halves(boxes["images"], np.random.default_rng(config.seed))
    fit = fit_img[boxes["image"]]
    held = ~fit
    conf, pos, cls, centre = boxes["conf"], boxes["positive"], boxes["cls"], boxes["centre"]
    k = len(ws.classes)
    warnings: list[str] = []
    if pos[fit].all() or not pos[fit].any():
        warnings.append("the fitting half has boxes of one outcome only (all right or all "
                        "wrong): the maps stay close to the identity; use a larger view")

    def fitted(method: str) -> cal.Calibrator:
        return cal.fit_calibrator(conf[fit], pos[fit], method,
                                  cls[fit] if config.per_class else None, k,
                                  min_per_class=config.min_per_class)

    maps = {m: fitted(m) for m in cal.METHODS}
    chosen = maps[config.method]
    after_conf = chosen.apply(conf, cls)
    methods = {m: _scores(c.apply(conf[held], cls[held]), pos[held], config, centre[held])
               for m, c in maps.items()}
    per_class: dict[str, dict[str, Any]] = {}
    for c, class_name in enumerate(ws.classes):
        sel = held & (cls == c)
        per_class[class_name] = {
            "boxes": int(sel.sum()), "positives": int(pos[sel].sum()),
            "own_map": c in chosen.per_class,
            "before": _scores(conf[sel], pos[sel], config, centre[sel]),
            "after": _scores(after_conf[sel], pos[sel], config, centre[sel])}
    thresholds = met = None
    if config.thresholds:
        values, ok = cal.operating_thresholds(conf, pos, cls, boxes["n_gt"], config.thresholds)
        thresholds = {n: round(float(v), 4) for n, v in zip(ws.classes, values, strict=True)}
        met = {n: bool(v) for n, v in zip(ws.classes, ok, strict=True)}
        missed = [n for n, v in met.items() if not v]
        if missed:
            warnings.append(f"--thresholds {config.thresholds} could not be met for "
                            f"{', '.join(missed)} (best-F1 threshold used, or the default "
                            "without a true positive)")
    out_dir = ws.root / "runs" / "calibrate" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = _plot(conf[held], after_conf[held], pos[held], config, out_dir, name)
    result = CalibrateResult(
        name=name, run=config.run, view=config.view, method=config.method,
        per_class=per_class, per_class_maps=bool(chosen.per_class),
        images={"fit": int(fit_img.sum()), "held_out": int((~fit_img).sum())},
        boxes={"fit": int(fit.sum()), "held_out": int(held.sum())},
        positives={"fit": int(pos[fit].sum()), "held_out": int(pos[held].sum())},
        before=_scores(conf[held], pos[held], config, centre[held]),
        after=methods[config.method], methods=methods, plot=plot,
        seconds=0.0, thresholds=thresholds, thresholds_rule=config.thresholds,
        thresholds_met=met or {}, warnings=warnings)
    if existing is not None:
        runs.delete_run(ws, name)
    params = {"run": config.run, "model": (doc.get("params") or {}).get("model"),
              "view": config.view, "method": config.method, "per_class": config.per_class,
              "min_per_class": config.min_per_class, "iou": config.iou, "bins": config.bins,
              "position": config.position, "min_conf": config.min_conf,
              "thresholds_rule": config.thresholds, "seed": config.seed}
    result.seconds = round(time.perf_counter() - started, 2)
    runs.record_run(ws, RunKind.CALIBRATE, name, params,
                    result.to_dict() | {"calibrator": chosen.to_dict()}, started_at)
    return result


def _plot(before: np.ndarray, after: np.ndarray, positive: np.ndarray, config: CalibrateConfig,
          out_dir: Path, name: str) -> str | None:
    """The reliability diagram of the held-out half, or None without boxes there."""
    if not len(before):
        return None
    from workbench import plots

    curves = {"raw": cal.reliability(before, positive, config.bins),
              f"{config.method}": cal.reliability(after, positive, config.bins)}
    return str(plots.reliability_diagram(curves, out_dir / "reliability.png",
                                         f"{name}: reliability on the held-out half"))
