"""``workbench predict``: run a detector over a view and store ``pred_<run>`` (+ embeddings).

Besides ``pred_<run>`` (every box down to ``conf``, for scoring), a run stores ``show_<run>``
(the boxes at or above ``display_conf``, what the App shows by default), the per-image scores
as ``scores_<run>`` and ``unc_<run>_<key>`` fields, and with embeddings a 2-D map of them for
the App's Embeddings panel (:func:`visualize` recomputes it on demand).

Both backends share workbench's preprocessing (Ultralytics' letterbox) and post-processing
(numpy NMS that keeps each box's full class-score vector). ``onnxruntime`` (the default)
exports a ``.pt`` once to ``WS/.workbench/onnx/`` and runs the ONNX graph.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.calibration import api as calibration
from workbench.core.calibration import Calibrator
from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.backends import BACKENDS
from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.prediction.tta import FUSION_METHODS, TTA_PASSES, PassPlan, fuse, plan_passes
from workbench.results import Result
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import app_views, predictions, runs, schema, visualization
from workbench.store.runs import RunKind
from workbench.store.visualization import METHODS, visualization_key
from workbench.store.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass
class PredictConfig:
    """Options of ``workbench predict``.

    Attributes:
        model: a ``.pt`` or ``.onnx`` file, or the name of a finished training run.
        run: prediction run name (default: generated).
        view: the view spec to predict (``pool``, ``split:NAME``, ...).
        backend: a name of :data:`~workbench.prediction.backends.BACKENDS`.
        imgsz: input size (default: the model's).
        batch: images per forward pass.
        embeddings: also store a pooled backbone feature per image as ``emb_<run>``.
        conf: minimum best-class score of a box (low on purpose: unsure boxes are what
            uncertainty sampling looks for); ``iou``: NMS IoU threshold.
        display_conf: minimum confidence of the boxes copied to ``show_<run>``, the field the
            App draws by default (``pred_<run>`` keeps every box for scoring).
        device: ``cpu`` or a CUDA index (ultralytics backend).
        replace: overwrite a run of the same name.
        chunk: images read and written per step.
        tta: run more passes (``tta_passes``); store their boxes as ``pred_<run>_tta`` and
            their per-image disagreement.
        tta_passes: the passes ``tta`` runs, names of
            :data:`~workbench.prediction.tta.TTA_PASSES` (default ``hflip`` and ``scale``: a
            horizontal flip and inputs 0.83x/1.17x the size). ``vflip`` and the rotations suit
            data without a canonical up (underwater, aerial, microscopy), not street scenes.
        fuse: store the fusion of the plain pass and every TTA pass as ``pred_<run>`` (each box
            with ``agreement``, the number of passes that found it) instead of the plain pass;
            needs ``tta``.
        fuse_method: a name of :data:`~workbench.prediction.tta.FUSION_METHODS` (``wbf``:
            weighted boxes fusion, ``nms``).
        fuse_iou: IoU above which boxes of different passes are the same object.
        calibration: the confidence map applied before anything is stored: ``auto`` (the
            newest ``workbench calibrate`` map of a run of the same model file, none without
            one), ``none``, or a calibration run's name. Calibrated runs keep each box's raw
            confidence as ``raw_confidence``.
    """

    model: str
    run: str | None = None
    view: str = "pool"
    backend: str = "onnxruntime"
    imgsz: int | None = None
    batch: int = 16
    embeddings: bool = False
    conf: float = 0.01
    iou: float = 0.7
    display_conf: float = predictions.DISPLAY_CONF
    device: str = "cpu"
    replace: bool = False
    chunk: int = 512
    tta: bool = False
    tta_passes: list[str] = dataclasses.field(default_factory=lambda: ["hflip", "scale"])
    fuse: bool = False
    fuse_method: str = "wbf"
    fuse_iou: float = 0.55
    calibration: str = "auto"

    def __post_init__(self) -> None:
        BACKENDS.entry(self.backend)  # unknown names list the valid ones
        if not 0.0 <= self.display_conf <= 1.0:
            raise ConfigError(f"display_conf must be in [0, 1], got {self.display_conf}")
        self.tta_passes = list(self.tta_passes)
        for name in self.tta_passes:
            TTA_PASSES.entry(name)
        twice = sorted({n for n in self.tta_passes if self.tta_passes.count(n) > 1})
        if twice:
            raise ConfigError(f"TTA passes {twice} are listed more than once; name each once")
        if self.tta and not self.tta_passes:
            raise ConfigError("--tta needs at least one pass; e.g. --tta-passes "
                              f"{','.join(TTA_PASSES.names())}")
        FUSION_METHODS.entry(self.fuse_method)
        if self.fuse and not self.tta:
            raise ConfigError("--fuse fuses the TTA passes, so it needs --tta; add --tta "
                              "(and --tta-passes) or drop --fuse")
        if not 0.0 < self.fuse_iou <= 1.0:
            raise ConfigError(f"fuse_iou must be in (0, 1], got {self.fuse_iou}")


@dataclass
class PredictResult(Result):
    """What :func:`predict` wrote."""

    run: str
    field: str
    samples: int
    boxes: int
    backend: str
    model: str
    seconds: float
    images_per_s: float
    embeddings_field: str | None = None
    display_field: str | None = None
    uncertainty_fields: list[str] = dataclasses.field(default_factory=list)
    visualization: str | None = None
    calibration: str | None = None


@dataclass
class VisualizeConfig:
    """Options of ``workbench visualize``.

    Attributes:
        run: the prediction run whose ``emb_<run>`` to map (default: the newest run with
            embeddings).
        method: a name of :data:`~workbench.store.visualization.METHODS`.
        seed: random seed of the reduction.
    """

    run: str | None = None
    method: str = "pca"
    seed: int = 0

    def __post_init__(self) -> None:
        METHODS.entry(self.method)  # unknown names list the valid ones


@dataclass
class VisualizeResult(Result):
    """The 2-D map :func:`visualize` stored."""

    run: str
    embeddings_field: str
    brain_key: str
    method: str
    points: int
    seed: int
    seconds: float


def resolve_weights(ws: Workspace, model: str) -> str:
    """A model file path, or the best weights of the training run named ``model``."""
    if Path(model).expanduser().is_file():
        return str(Path(model).expanduser().resolve())
    doc = runs.get_run(ws, model, kind=RunKind.TRAIN)
    weights = ((doc or {}).get("outputs") or {}).get("weights")
    if weights and Path(weights).is_file():
        return str(weights)
    raise ConfigError(f"model {model!r} is neither a file nor a finished training run of this "
                      "workspace; pass a .pt/.onnx path or a run name from `workbench runs`")


def make_predictor(ws: Workspace, weights: str, backend: str, imgsz: int | None,
                   batch: int, device: str = "cpu") -> Predictor:
    """The predictor for ``weights`` on ``backend`` (exporting a ``.pt`` to ONNX if needed).

    Raises:
        UnknownNameError: ``backend`` is not registered (lists the valid ones).
    """
    return BACKENDS.get(backend)(ws, weights, imgsz, batch, device)


def predict(ws: Workspace, model: str, progress: Progress | None = None,
            **options: Any) -> PredictResult:
    """Keyword form of :func:`predict_view`: ``options`` are :class:`PredictConfig` fields."""
    return predict_view(ws, PredictConfig(model=model, **options), progress)


def predict_view(ws: Workspace, config: PredictConfig,
                 progress: Progress | None = None) -> PredictResult:
    """Predict every image of ``config.view`` and store the results as run ``config.run``.

    With ``tta``, the passes of ``tta_passes`` run too (by default a horizontal flip and inputs
    0.83x and 1.17x the size, multiples of 32), each at ``conf``, their boxes mapped back to
    the original image; they are stored as ``pred_<run>_tta`` (pass id ``tta_pass``: 0 the
    plain pass, then the run params' ``tta_pass_names``) and the per-image disagreement
    between passes as ``scores_<run>.tta_disagreement``. With ``fuse``, ``pred_<run>`` (and
    the per-image scores) is the fusion of all passes, each box with ``agreement``; its
    confidences are the fusion's.

    Args:
        ws: the workspace.
        config: the options.
        progress: called with ``(images done, total)`` after each chunk.

    Raises:
        ConfigError: unknown backend or model; WorkbenchError: empty view, existing run,
            model classes that are not the workspace's.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    backend, batch, chunk = config.backend, config.batch, config.chunk
    weights = resolve_weights(ws, config.model)
    run = config.run or runs.new_run_id("predict")
    existing = runs.get_run(ws, run)
    if existing is not None and not config.replace:
        raise WorkbenchError(f"a run named {run!r} exists; choose another --run or --replace")
    calibrated = calibration.resolve(ws, config.calibration, weights)
    ids, paths = predictions.view_files(ws, config.view)
    if not ids:
        raise WorkbenchError(f"the view {config.view!r} has no samples to predict")
    predictor = make_predictor(ws, weights, backend, config.imgsz, batch, config.device)
    unknown = sorted(set(predictor.names) - set(ws.classes))
    if unknown:
        raise WorkbenchError(f"the model predicts classes the workspace does not have: "
                             f"{unknown}; workspace classes: {ws.classes}")
    lut = np.asarray([ws.classes.index(n) for n in predictor.names], dtype=np.int64)
    n_classes = len(ws.classes)
    options = PredictOptions(conf=config.conf, iou=config.iou, batch=batch)
    plans: list[PassPlan] = []
    predictors = {predictor.imgsz: predictor}
    if config.tta:
        fixed = BACKENDS.meta(backend)["fixed_size_onnx"] and not weights.endswith(".pt")
        plans = plan_passes(config.tta_passes, predictor.imgsz, fixed)
        for plan in plans:
            if plan.imgsz not in predictors:
                predictors[plan.imgsz] = make_predictor(ws, weights, backend, plan.imgsz, batch,
                                                        config.device)
    total_boxes = 0
    written: dict[str, Any] = {}
    for start in range(0, len(ids), chunk):
        part_ids, part_paths = ids[start:start + chunk], paths[start:start + chunk]
        preds, emb = predictor.predict(part_paths, options, config.embeddings)
        preds = _to_workspace(preds, lut, n_classes)
        per_box: dict[str, np.ndarray] | None = None
        tta_boxes, tta_scores = None, None
        if config.tta:
            members = [preds] + [_to_workspace(predictors[p.imgsz].predict(
                part_paths, options, transform=p.transform)[0], lut, n_classes) for p in plans]
            tta_boxes, tta_scores = _tta(members, len(part_ids))
            if config.fuse:
                preds, agreement = fuse(members, config.fuse_method, config.fuse_iou)
                per_box = {"agreement": agreement}
        if calibrated is not None:
            preds, raw = _calibrate(preds, calibrated[1])
            per_box = (per_box or {}) | {"raw_confidence": raw}
        scores = image_scores(preds, len(part_ids), tta=tta_scores)
        written = predictions.write_predictions(ws, run, part_ids, preds, ws.classes,
                                                scores=scores, indexed=indexed_keys(scores),
                                                embeddings=emb, tta=tta_boxes, per_box=per_box)
        total_boxes += len(preds)
        if progress:
            progress(min(start + chunk, len(ids)), len(ids))
    show = predictions.write_display(ws, run, ids, config.display_conf)
    seconds = time.perf_counter() - started
    emb_field = written.get("embeddings_field")
    result = PredictResult(run=run, field=written["field"], samples=len(ids), boxes=total_boxes,
                           backend=backend, model=weights, seconds=round(seconds, 2),
                           images_per_s=round(len(ids) / seconds, 2),
                           embeddings_field=emb_field, display_field=show,
                           uncertainty_fields=list(written["uncertainty_fields"].values()),
                           calibration=None if calibrated is None else calibrated[0])
    if emb_field and len(ids) >= visualization.MIN_POINTS:
        result.visualization = visualization_key(run)
    if existing is not None:
        runs.delete_run(ws, run)
    params = {"model": weights, "view": config.view, "backend": backend,
              "imgsz": predictor.imgsz, "conf": config.conf, "iou": config.iou,
              "display_conf": config.display_conf, "embeddings": config.embeddings,
              "tta": config.tta, "tta_passes": config.tta_passes if config.tta else [],
              "tta_pass_names": ["plain"] + [p.label for p in plans],
              "tta_sizes": [p.imgsz for p in plans], "fuse": config.fuse,
              "fuse_method": config.fuse_method if config.fuse else None,
              "fuse_iou": config.fuse_iou if config.fuse else None,
              "calibration": result.calibration}
    runs.record_run(ws, RunKind.PREDICT, run, params,
                    result.to_dict() | {"scores_field": written.get("scores_field")},
                    started_at)
    if result.visualization and emb_field:
        visualization.compute_visualization(ws, emb_field, result.visualization, "pca")
    app_views.refresh_app(ws)
    return result


def latest_embeddings_run(ws: Workspace) -> str:
    """The newest prediction run whose ``emb_<run>`` field exists.

    Raises:
        WorkbenchError: no run has embeddings (says how to make some).
    """
    present = set(schema.field_names(ws))
    for doc in reversed(runs.list_runs(ws, RunKind.PREDICT)):
        emb = (doc.get("outputs") or {}).get("embeddings_field")
        if emb and emb in present:
            return str(doc["_id"])
    raise WorkbenchError("no prediction run of this workspace has embeddings; run "
                         "`workbench predict --embeddings ...` first")


def visualize(ws: Workspace, config: VisualizeConfig) -> VisualizeResult:
    """Compute (or recompute) the 2-D map of a run's embeddings for the App.

    Stored as brain run :func:`~workbench.store.visualization.visualization_key` of the run,
    over the samples that have ``emb_<run>``; an existing map of the run is replaced.

    Raises:
        WorkbenchError: no such run or no embeddings; the method's package is missing
            (``VisualizationDependencyError``, naming the install command).
    """
    started = time.perf_counter()
    run = config.run or latest_embeddings_run(ws)
    if runs.get_run(ws, run) is None:
        raise WorkbenchError(f"no run named {run!r}; see `workbench runs`")
    emb_field = predictions.field_name("emb", run)
    done = visualization.compute_visualization(ws, emb_field, visualization_key(run),
                                               config.method, config.seed)
    return VisualizeResult(run=run, embeddings_field=emb_field, brain_key=done["brain_key"],
                           method=config.method, points=done["points"], seed=config.seed,
                           seconds=round(time.perf_counter() - started, 2))


def _calibrate(preds: Predictions, calibrator: Calibrator) -> tuple[Predictions, np.ndarray]:
    """``preds`` with calibrated confidences and class vectors, and the ``(M,)`` raw
    confidences."""
    raw = preds.confidence.copy()
    preds.confidence = calibrator.apply(raw, preds.class_id)
    if preds.class_probs is not None:
        preds.class_probs = calibrator.apply_probs(preds.class_probs)
    return preds, raw


def _to_workspace(preds: Predictions, lut: np.ndarray, n_classes: int) -> Predictions:
    """``preds`` with class ids and class vectors in workspace class order.

    Args:
        preds: ``M`` boxes in the model's class order (``class_probs (M, C_model)``).
        lut: ``(C_model,)`` workspace index of each model class.
        n_classes: ``C``, the workspace's class count.

    Returns:
        The same boxes, ``class_id`` mapped and ``class_probs (M, C)`` (zeros for classes the
        model does not have).
    """
    preds.class_id = lut[preds.class_id]
    if preds.class_probs is not None:
        full = np.zeros((len(preds), n_classes))
        full[:, lut] = preds.class_probs
        preds.class_probs = full
    return preds


def _tta(members: list[Predictions], n_images: int
         ) -> tuple[tuple[Predictions, np.ndarray], np.ndarray]:
    """The boxes of every pass (the plain pass first) of ``n_images`` images, merged.

    Returns:
        ``(boxes of all passes, (M',) pass id per box)``, by image, and the ``(N,)``
        disagreement of the passes with the plain one.
    """
    from workbench.core.agreement import disagreement

    scores = disagreement([(p.xyxy, p.class_id, p.image_index) for p in members], n_images)
    pass_id = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(members)])
    order = np.argsort(np.concatenate([p.image_index for p in members]), kind="stable")
    merged = Predictions(np.concatenate([p.xyxy for p in members])[order],
                         np.concatenate([p.confidence for p in members])[order],
                         np.concatenate([p.class_id for p in members])[order],
                         np.concatenate([p.image_index for p in members])[order])
    return (merged, pass_id[order]), scores
