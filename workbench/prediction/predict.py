"""``workbench predict``: run a detector over a view and store ``pred_<run>`` (+ embeddings).

Besides ``pred_<run>`` (every box down to ``conf``, for scoring), a run stores ``show_<run>``
(the boxes at or above ``display_conf``, what the App shows by default), the per-image scores
as ``scores_<run>`` and ``unc_<run>_<key>`` fields, and with embeddings a 2-D map of them for
the App's Embeddings panel (:func:`visualize` recomputes it on demand).

Both backends share workbench's preprocessing (Ultralytics' letterbox) and post-processing
(numpy NMS that keeps each box's full class-score vector). ``onnxruntime`` (the default)
exports a ``.pt`` once to ``WS/.workbench/onnx/`` and runs the ONNX graph.

Where the forward passes run is the engine's business (:data:`~workbench.prediction.engines.
ENGINES`: ``local``, this process; ``ray``, an actor pool on a Ray cluster): the engine hands
back chunks ``(sample ids, predictions, embeddings)`` and this module maps classes, calibrates,
scores and writes each chunk as it arrives, the same way for every engine. ``resume`` continues
a run: the images of the view that already hold ``pred_<run>`` are skipped and the run ends
recorded once, with every image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.calibration import api as calibration
from workbench.core.ahead import ahead
from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.backends import BACKENDS
from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.prediction.chunks import store_chunk, to_workspace
from workbench.prediction.engines import ENGINES, Chunk, InferenceJob
from workbench.prediction.resume import check_resumable, partial_outputs, remaining, run_params
from workbench.prediction.tta import FUSION_METHODS, TTA_PASSES, PassPlan, plan_passes
from workbench.raypool import check_options
from workbench.results import Result
from workbench.store import (
    app_views,
    lock,
    predicted,
    predictions,
    runs,
    schema,
    visualization,
)
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
        chunk: images read and written per step (each step is kept once written: a killed
            run goes on from the last one with ``resume``).
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
        engine: where the model runs, a name of :data:`~workbench.prediction.engines.ENGINES`
            (``local``: this process; ``ray``: an actor pool on a Ray cluster; no TTA).
        address: the Ray cluster (``ray`` engine): None (a Ray instance started on this
            machine for the command), ``auto`` (the one ``ray start`` runs here),
            ``HOST:PORT`` (a head node) or ``ray://HOST:PORT`` (Ray Client).
        workers: model replicas of the ``ray`` engine (actors, one model each, one CPU each or
            one GPU each with a CUDA ``device``); None: one per CPU (GPU) of the cluster.
        resume: continue run ``run``: skip the images of the view that already hold
            ``pred_<run>`` (same model and settings required) and record the run once, over
            every image.
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
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        BACKENDS.entry(self.backend)  # unknown names list the valid ones
        ENGINES.entry(self.engine)
        self._check_engine()
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

    def _check_engine(self) -> None:
        """The engine's and ``resume``'s rules (before anything runs)."""
        check_options(self.engine, self.address, self.workers)
        if self.tta and not ENGINES.meta(self.engine)["tta"]:
            raise ConfigError(f"--engine {self.engine} runs the plain pass only; drop --tta, "
                              "or run TTA with --engine local")
        if self.chunk < 1 or self.batch < 1:
            raise ConfigError(f"batch and chunk must be at least 1, got {self.batch} and "
                              f"{self.chunk}")
        if self.resume and not self.run:
            raise ConfigError("--resume continues a run: add --run NAME (see `workbench runs "
                              "--kind predict`)")
        if self.resume and self.replace:
            raise ConfigError("--resume continues the run and --replace starts it over; "
                              "choose one")


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
    engine: str = "local"
    predicted: int = 0
    skipped: int = 0
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


@contextlib.contextmanager
def engine_chunks(engine: str, job: InferenceJob, any_images: bool, overlap: bool = True
                  ) -> Iterator[Iterator[Chunk]]:
    """The engine's chunks of ``job``; an in-process engine's computed one chunk ahead in a
    worker thread (:func:`~workbench.core.ahead.ahead`), so inference of chunk ``k + 1``
    overlaps the store writes of chunk ``k``. ``overlap=False``: not (the caller runs the
    same predictors itself between chunks, as TTA does; not every backend is thread-safe)."""
    chunks: Iterator[Chunk] = ENGINES.get(engine)(job) if any_images else iter(())
    if not (overlap and ENGINES.meta(engine)["in_process"]):
        yield chunks  # a Ray cluster's actors already work while the driver writes
        return
    with ahead(chunks, 1, "predict-engine") as early:
        yield early


def predict_view(ws: Workspace, config: PredictConfig,
                 progress: Progress | None = None) -> PredictResult:
    """Predict every image of ``config.view`` and store the results as run ``config.run``.

    The engine (``config.engine``) hands back chunks of predictions as it finishes them; each
    is stored at once with the same bulk writer, so memory stays flat and results do not
    depend on the engine. The run is recorded as ``running`` at the start and each stored
    chunk is kept (:func:`~workbench.store.lock.checkpoint`; not when another verb such as
    ``loop next`` called this one): a command killed half-way leaves the run
    ``interrupted`` with its finished chunks. With ``resume``, the images that already hold
    ``pred_<run>`` are skipped (the run's model and settings must be the ones asked for) and
    the run's record is replaced by one over every image.

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
        progress: called with ``(images done, total)`` after each chunk (skipped images
            count as done).

    Raises:
        ConfigError: unknown backend, engine or model; WorkbenchError: empty view, existing
            run, a resumed run made with other settings, model classes that are not the
            workspace's; RayUnavailableError / RayClusterError (``ray`` engine).
    """
    started = time.perf_counter()
    backend, batch = config.backend, config.batch
    weights = resolve_weights(ws, config.model)
    run = config.run or runs.new_run_id("predict")
    existing = runs.get_run(ws, run)
    if existing is not None and not (config.replace or config.resume):
        raise WorkbenchError(f"a run named {run!r} exists; choose another --run, --replace it "
                             "or --resume it")
    if config.resume and existing is not None and existing.get("kind") != RunKind.PREDICT:
        raise WorkbenchError(f"run {run!r} is a {existing.get('kind')} run; --resume continues "
                             "`workbench predict` runs")
    calibrated = calibration.resolve(ws, config.calibration, weights)
    ids, paths = predictions.view_files(ws, config.view)
    if not ids:
        raise WorkbenchError(f"the view {config.view!r} has no samples to predict")
    # the ray engine's actors hold the models; the driver's only exports and describes it
    predictor = make_predictor(ws, weights, backend, config.imgsz, batch,
                               config.device if config.engine == "local" else "cpu")
    unknown = sorted(set(predictor.names) - set(ws.classes))
    if unknown:
        raise WorkbenchError(f"the model predicts classes the workspace does not have: "
                             f"{unknown}; workspace classes: {ws.classes}")
    lut = np.asarray([ws.classes.index(n) for n in predictor.names], dtype=np.int64)
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
    params = run_params(config, weights, predictor.imgsz, plans,
                         None if calibrated is None else calibrated[0])
    todo, skipped = list(range(len(ids))), 0
    if config.resume and existing is not None:
        check_resumable(run, existing.get("params") or {}, params)
        todo = remaining(ws, config.view, run, ids)
        skipped = len(ids) - len(todo)
    todo_ids, todo_paths = [ids[k] for k in todo], [paths[k] for k in todo]
    path_of = dict(zip(todo_ids, todo_paths, strict=True)) if config.tta else {}

    def tta_members(part_ids: list[Any]) -> list[Predictions]:
        part_paths = [path_of[i] for i in part_ids]
        return [to_workspace(predictors[p.imgsz].predict(
            part_paths, options, transform=p.transform)[0], lut, len(ws.classes))
            for p in plans]

    job = InferenceJob(ids=todo_ids, paths=todo_paths, predictor=predictor, backend=backend,
                       weights=weights, device=config.device, options=options,
                       embeddings=config.embeddings, chunk=config.chunk,
                       address=config.address, workers=config.workers, root=str(ws.root))
    before = (existing or {}).get("outputs") or {} if skipped else {}
    if existing is not None and config.replace:  # a later --resume must not skip old boxes
        predictions.unset_run(ws, run, ids, list((existing.get("outputs") or {}).get(
            "uncertainty_fields") or []))
    if existing is not None:
        runs.delete_run(ws, run)  # replaced, or resumed: recorded again, once
    runs.start_run(ws, RunKind.PREDICT, run, params, {"view": config.view},
                   on_rollback="interrupted")
    # counted in the store, not read from the run record: a kill between the record's update
    # and the chunk's checkpoint leaves a count that includes a rolled-back chunk
    total_boxes = predicted.predicted_boxes(ws, config.view, predictions.field_name(
        "pred", run)) if skipped else 0
    done_now = 0
    written: dict[str, Any] = {}
    with engine_chunks(config.engine, job, bool(todo_ids), overlap=not config.tta) as chunks:
        for part_ids, preds, emb in chunks:
            preds = to_workspace(preds, lut, len(ws.classes))
            written = store_chunk(ws, run, config, part_ids, preds, emb,
                                   tta_members(part_ids) if config.tta else None,
                                   None if calibrated is None else calibrated[1])
            total_boxes += int(written["boxes"])  # after fusion
            done_now += len(part_ids)
            runs.update_run(ws, run, set_={"outputs": partial_outputs(
                written, before, total_boxes, skipped + done_now)})
            lock.checkpoint(ws)  # a kill from here on keeps this chunk: --resume goes on
            if progress:
                progress(skipped + done_now, len(ids))
    seconds = time.perf_counter() - started
    emb_field = written.get("embeddings_field", before.get("embeddings_field"))
    result = PredictResult(
        run=run, field=predictions.field_name("pred", run), samples=len(ids),
        boxes=total_boxes, backend=backend, model=weights,
        seconds=round(seconds, 2), images_per_s=round(len(todo_ids) / seconds, 2),
        engine=config.engine, predicted=len(todo_ids), skipped=skipped,
        embeddings_field=emb_field, display_field=predictions.field_name("show", run),
        uncertainty_fields=list(written["uncertainty_fields"].values()) if written
        else list(before.get("uncertainty_fields") or []),
        calibration=None if calibrated is None else calibrated[0])
    if emb_field and len(ids) >= visualization.MIN_POINTS:
        result.visualization = visualization_key(run)
    scores_field = written.get("scores_field", before.get("scores_field"))
    runs.finish_run(ws, run, "completed", result.to_dict() | {"scores_field": scores_field},
                    seconds)
    if result.visualization and emb_field and todo_ids:
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
