"""The ``ray`` inference engine: pool inference on a Ray cluster (:mod:`workbench.raypool`).

Each actor holds one detector and runs one forward pass of ``batch`` images per call, returning
plain numpy (normalized ``xyxy`` boxes, confidences, class ids, class vectors, positions,
embeddings); :func:`run` merges what arrives into chunks of about ``chunk`` images, which
:func:`~workbench.prediction.predict.predict_view` writes with the same bulk writer as the
local engine.

The model is prepared once by the driver (a ``.pt`` is exported to ``WS/.workbench/onnx``
before any actor starts); actors load that ``.onnx`` (or the ``.pt`` for the ``ultralytics``
backend) from the same path, so on a multi-machine cluster the workspace folder must be
reachable at the same path on every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from workbench.core.types import Predictions
from workbench.prediction.engines import Chunk, InferenceJob
from workbench.raypool import stream


def actor_spec(job: InferenceJob) -> dict[str, Any]:
    """What each actor needs to build its model (plain data, pickled to the actors).

    An ``onnxruntime`` job's actors load the driver's ``.onnx`` (exported once, before they
    start) with one intra-op thread each: the actor is the unit of parallelism.
    """
    gpu = job.device != "cpu"
    onnx_file = getattr(job.predictor, "path", None)  # OnnxPredictor.path
    common = {"options": job.options, "embeddings": job.embeddings}
    if job.backend == "onnxruntime" and isinstance(onnx_file, str):
        return common | {"onnx": onnx_file, "threads": 1}
    return common | {"backend": job.backend, "weights": job.weights, "root": job.root,
                     "imgsz": job.predictor.imgsz, "batch": job.options.batch,
                     "device": "0" if gpu else "cpu"}  # Ray shows an actor only its GPU


class Detector:
    """One model per actor: a batch of paths in, its predictions as plain numpy out."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if "onnx" in spec:
            from workbench.prediction.backends.onnx import OnnxPredictor

            self.predictor: Any = OnnxPredictor(spec["onnx"], threads=spec["threads"])
        else:
            from workbench.prediction.backends import BACKENDS

            root = SimpleNamespace(root=Path(spec["root"]))  # backends read only the folder
            self.predictor = BACKENDS.get(spec["backend"])(
                cast(Any, root), spec["weights"], spec["imgsz"], spec["batch"], spec["device"])
        self.options = spec["options"]
        self.embeddings = bool(spec["embeddings"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """Predict ``batch["path"]``: boxes with ``image_index`` into the batch, its
        ``index``, and ``(B, D)`` embeddings or None."""
        preds, emb = self.predictor.predict([str(p) for p in batch["path"]], self.options,
                                            self.embeddings)
        return {"index": batch["index"], "xyxy": preds.xyxy, "confidence": preds.confidence,
                "class_id": preds.class_id, "image_index": preds.image_index,
                "class_probs": preds.class_probs, "embeddings": emb}


def merge(job: InferenceJob, parts: list[dict[str, Any]], n_classes: int) -> Chunk:
    """One chunk from actor results: ids in arrival order, ``image_index`` re-based to them."""
    offsets = np.cumsum([0] + [len(p["index"]) for p in parts[:-1]])
    index = np.concatenate([p["index"] for p in parts])
    ids = [job.ids[i] for i in index.tolist()]
    probs = [p["class_probs"] for p in parts]
    preds = Predictions(
        np.concatenate([p["xyxy"] for p in parts]).reshape(-1, 4),
        np.concatenate([p["confidence"] for p in parts]),
        np.concatenate([p["class_id"] for p in parts]).astype(np.int64),
        np.concatenate([p["image_index"] + o for p, o in zip(parts, offsets, strict=True)]
                       ).astype(np.int64),
        None if any(p is None for p in probs) else np.concatenate(probs).reshape(-1, n_classes))
    embs = [p["embeddings"] for p in parts]
    emb = None if any(e is None for e in embs) else np.concatenate(embs)
    return ids, preds, emb


def run(job: InferenceJob) -> Iterator[Chunk]:
    """Predict ``job`` on Ray; chunks of about ``job.chunk`` images as the actors finish them.

    Raises:
        RayUnavailableError, RayClusterError, WorkbenchError: see
            :func:`workbench.raypool.stream`.
    """
    n_classes = len(job.predictor.names)
    for parts in stream(job.paths, Detector, actor_spec(job), address=job.address,
                        batch=job.options.batch, chunk=job.chunk, workers=job.workers,
                        gpu=job.device != "cpu"):
        yield merge(job, parts, n_classes)
