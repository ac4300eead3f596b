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

from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.backends import BACKENDS
from workbench.prediction.backends.base import PredictOptions, Predictor
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
        tta: add flip and 0.83x/1.17x-scale passes; store them and their disagreement.
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

    def __post_init__(self) -> None:
        BACKENDS.entry(self.backend)  # unknown names list the valid ones
        if not 0.0 <= self.display_conf <= 1.0:
            raise ConfigError(f"display_conf must be in [0, 1], got {self.display_conf}")


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

    With ``tta``, three more passes run (horizontal flip; inputs 0.83x and 1.17x the size,
    multiples of 32); their boxes are stored as ``pred_<run>_tta`` and the per-image
    disagreement between passes as ``scores_<run>.tta_disagreement``.

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
    ids, paths = predictions.view_files(ws, config.view)
    if not ids:
        raise WorkbenchError(f"the view {config.view!r} has no samples to predict")
    predictor = make_predictor(ws, weights, backend, config.imgsz, batch, config.device)
    unknown = sorted(set(predictor.names) - set(ws.classes))
    if unknown:
        raise WorkbenchError(f"the model predicts classes the workspace does not have: "
                             f"{unknown}; workspace classes: {ws.classes}")
    lut = np.asarray([ws.classes.index(n) for n in predictor.names], dtype=np.int64)
    options = PredictOptions(conf=config.conf, iou=config.iou, batch=batch)
    passes: list[tuple[Predictor, bool]] = []
    if config.tta:
        passes.append((predictor, True))
        base = predictor.imgsz
        fixed = BACKENDS.meta(backend)["fixed_size_onnx"] and not weights.endswith(".pt")
        for factor in (0.83, 1.17):
            size = max(32, round(base * factor / 32) * 32)
            if size != base:
                if fixed:
                    continue  # a fixed-size .onnx cannot change its input size
                passes.append((make_predictor(ws, weights, backend, size, batch,
                                              config.device), False))
    total_boxes = 0
    written: dict[str, Any] = {}
    for start in range(0, len(ids), chunk):
        part_ids, part_paths = ids[start:start + chunk], paths[start:start + chunk]
        preds, emb = predictor.predict(part_paths, options, config.embeddings)
        preds.class_id = lut[preds.class_id]  # model class order -> workspace class order
        if preds.class_probs is not None:
            full = np.zeros((len(preds), len(ws.classes)))
            full[:, lut] = preds.class_probs
            preds.class_probs = full
        tta_boxes, tta_scores = (_tta(part_paths, preds, passes, options, lut) if config.tta
                                 else (None, None))
        scores = image_scores(preds, len(part_ids), tta=tta_scores)
        written = predictions.write_predictions(ws, run, part_ids, preds, ws.classes,
                                                scores=scores, indexed=indexed_keys(scores),
                                                embeddings=emb, tta=tta_boxes)
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
                           uncertainty_fields=list(written["uncertainty_fields"].values()))
    if emb_field and len(ids) >= visualization.MIN_POINTS:
        result.visualization = visualization_key(run)
    if existing is not None:
        runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.PREDICT, run, {"model": weights, "view": config.view,
                                               "backend": backend, "imgsz": predictor.imgsz,
                                               "conf": config.conf, "iou": config.iou,
                                               "display_conf": config.display_conf,
                                               "embeddings": config.embeddings,
                                               "tta": config.tta,
                                               "tta_sizes": [p.imgsz for p, _ in passes]},
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


def _tta(paths: list[str], reference: Predictions, passes: list[tuple[Predictor, bool]],
         options: PredictOptions, lut: np.ndarray
         ) -> tuple[tuple[Predictions, np.ndarray], np.ndarray]:
    """Run the extra passes on ``paths`` (``N`` images).

    Returns:
        ``(boxes of all passes, (M',) pass id per box)`` and the ``(N,)`` disagreement.
    """
    from workbench.core.agreement import disagreement

    results = [reference]
    for predictor, flip in passes:
        preds, _ = predictor.predict(paths, options, flip=flip)
        preds.class_id = lut[preds.class_id]
        results.append(preds)
    scores = disagreement([(p.xyxy, p.class_id, p.image_index) for p in results], len(paths))
    pass_id = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(results)])
    order = np.argsort(np.concatenate([p.image_index for p in results]), kind="stable")
    merged = Predictions(np.concatenate([p.xyxy for p in results])[order],
                         np.concatenate([p.confidence for p in results])[order],
                         np.concatenate([p.class_id for p in results])[order],
                         np.concatenate([p.image_index for p in results])[order])
    return (merged, pass_id[order]), scores
