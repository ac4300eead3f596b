"""``workbench predict``: run a detector over a view and store ``pred_<run>`` (+ embeddings).

Both backends share workbench's preprocessing (Ultralytics' letterbox) and post-processing
(numpy NMS that keeps each box's full class-score vector). ``onnxruntime`` (the default)
exports a ``.pt`` once to ``WS/.workbench/onnx/`` and runs the ONNX graph.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.store import predictions, runs
from workbench.store.runs import RunKind
from workbench.store.views import view_match
from workbench.store.workspace import Workspace

BACKENDS = ("onnxruntime", "ultralytics")
Progress = Callable[[int, int], None]


@dataclass
class PredictResult:
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


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
    """The predictor for ``weights`` on ``backend`` (exporting a ``.pt`` to ONNX if needed)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "ultralytics":
        if not weights.endswith(".pt"):
            raise ConfigError("the ultralytics backend needs a .pt; use --backend onnxruntime "
                              "for .onnx models")
        from workbench.prediction.backends.torch import TorchPredictor

        return TorchPredictor(weights, imgsz, device)
    from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx

    if weights.endswith(".pt"):
        digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]
        out = ws.root / ".workbench" / "onnx" / f"{digest}-{imgsz or 'train'}-b{batch}.onnx"
        if not out.is_file():
            tmp = out.with_suffix(".tmp.onnx")
            export_onnx(weights, tmp, imgsz, batch=batch)
            tmp.replace(out)
        weights = str(out)
    predictor = OnnxPredictor(weights)
    if imgsz and imgsz != predictor.imgsz:
        raise ConfigError(f"{weights} takes {predictor.imgsz} px inputs; drop --imgsz or pass "
                          f"--imgsz {predictor.imgsz}")
    return predictor


def predict(ws: Workspace, model: str, run: str | None = None, view: str = "pool",
            backend: str = "onnxruntime", imgsz: int | None = None, batch: int = 16,
            embeddings: bool = False, conf: float = 0.01, iou: float = 0.7, device: str = "cpu",
            replace: bool = False, progress: Progress | None = None,
            chunk: int = 512, tta: bool = False) -> PredictResult:
    """Predict every image of ``view`` and store the results as run ``run``.

    With ``tta``, three more passes run (horizontal flip; inputs 0.83x and 1.17x the size,
    multiples of 32); their boxes are stored as ``pred_<run>_tta`` and the per-image
    disagreement between passes as ``scores_<run>.tta_disagreement``.

    Raises:
        ConfigError: unknown backend or model; WorkbenchError: empty view, existing run,
            model classes that are not the workspace's.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    weights = resolve_weights(ws, model)
    run = run or runs.new_run_id("predict")
    existing = runs.get_run(ws, run)
    if existing is not None and not replace:
        raise WorkbenchError(f"a run named {run!r} exists; choose another --run or --replace")
    match = view_match(view)
    docs = list(ws.samples.find(match, {"_id": 1, "filepath": 1}).sort("_id", 1))
    if not docs:
        raise WorkbenchError(f"the view {view!r} has no samples to predict")
    predictor = make_predictor(ws, weights, backend, imgsz, batch, device)
    unknown = sorted(set(predictor.names) - set(ws.classes))
    if unknown:
        raise WorkbenchError(f"the model predicts classes the workspace does not have: "
                             f"{unknown}; workspace classes: {ws.classes}")
    lut = np.asarray([ws.classes.index(n) for n in predictor.names], dtype=np.int64)
    options = PredictOptions(conf=conf, iou=iou, batch=batch)
    passes: list[tuple[Predictor, bool]] = []
    if tta:
        passes.append((predictor, True))
        base = predictor.imgsz
        for factor in (0.83, 1.17):
            size = max(32, round(base * factor / 32) * 32)
            if size != base:
                if backend == "onnxruntime" and not weights.endswith(".pt"):
                    continue  # a fixed-size .onnx cannot change its input size
                passes.append((make_predictor(ws, weights, backend, size, batch, device), False))
    total_boxes = 0
    written: dict[str, Any] = {}
    for start in range(0, len(docs), chunk):
        part = docs[start:start + chunk]
        preds, emb = predictor.predict([d["filepath"] for d in part], options, embeddings)
        preds.class_id = lut[preds.class_id]  # model class order -> workspace class order
        if preds.class_probs is not None:
            full = np.zeros((len(preds), len(ws.classes)))
            full[:, lut] = preds.class_probs
            preds.class_probs = full
        tta_data = _tta(part, preds, passes, options, lut) if tta else None
        written = predictions.write_predictions(ws, run, [d["_id"] for d in part], preds,
                                                ws.classes, embeddings=emb, tta=tta_data)
        total_boxes += len(preds)
        if progress:
            progress(min(start + chunk, len(docs)), len(docs))
    seconds = time.perf_counter() - started
    result = PredictResult(run=run, field=written["field"], samples=len(docs), boxes=total_boxes,
                           backend=backend, model=weights, seconds=round(seconds, 2),
                           images_per_s=round(len(docs) / seconds, 2),
                           embeddings_field=written.get("embeddings_field"))
    if existing is not None:
        ws.runs.delete_one({"_id": run})
    runs.record_run(ws, RunKind.PREDICT, run, {"model": weights, "view": view, "backend": backend,
                                         "imgsz": predictor.imgsz, "conf": conf, "iou": iou,
                                         "embeddings": embeddings, "tta": tta,
                                         "tta_sizes": [p.imgsz for p, _ in passes]},
                    result.to_dict() | {"scores_field": written.get("scores_field")},
                    started_at)
    return result


def _tta(part: list[dict[str, Any]], reference: Predictions, passes: list[tuple[Predictor, bool]],
         options: PredictOptions, lut: np.ndarray) -> tuple[Predictions, np.ndarray, np.ndarray]:
    """Run the extra passes; return all passes' boxes, their pass ids and the disagreement."""
    from workbench.core.agreement import disagreement

    paths = [d["filepath"] for d in part]
    results = [reference]
    for predictor, flip in passes:
        preds, _ = predictor.predict(paths, options, flip=flip)
        preds.class_id = lut[preds.class_id]
        results.append(preds)
    scores = disagreement([(p.xyxy, p.class_id, p.image_index) for p in results], len(part))
    pass_id = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(results)])
    order = np.argsort(np.concatenate([p.image_index for p in results]), kind="stable")
    merged = Predictions(np.concatenate([p.xyxy for p in results])[order],
                         np.concatenate([p.confidence for p in results])[order],
                         np.concatenate([p.class_id for p in results])[order],
                         np.concatenate([p.image_index for p in results])[order])
    return merged, pass_id[order], scores
