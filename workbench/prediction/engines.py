"""Inference engines: where ``workbench predict`` runs the detector over the images of a view.

An engine turns an :class:`InferenceJob` (the images, the driver's predictor, the settings)
into an iterator of chunks ``(sample ids, predictions, embeddings)``: boxes in the model's class
order with ``image_index`` into the chunk's ids, and ``(n, D)`` embeddings or None. The driver
(:func:`workbench.prediction.predict.predict_view`) maps classes, calibrates, scores and writes
each chunk with the same bulk writer whatever the engine, so the engines only differ in where
the forward passes run.

:data:`ENGINES` maps the ``--engine`` names to engines; facts: ``help``, ``tta`` (the engine
runs TTA passes), ``in_process`` (the driver runs it one chunk ahead in a worker thread).
``local`` runs in this process; ``ray`` (:mod:`workbench.prediction.ray_engine`) on a Ray
cluster, imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.types import Predictions
from workbench.prediction.backends.base import PredictOptions, Predictor
from workbench.registry import Registry

#: ``(sample ids, predictions with image_index into them, (n, D) embeddings or None)``
Chunk = tuple[list[Any], Predictions, "np.ndarray | None"]


@dataclass(frozen=True)
class InferenceJob:
    """What an engine runs.

    Attributes:
        ids: ``N`` sample ids, in the order of ``paths``.
        paths: ``N`` image files (readable where the engine runs them).
        predictor: the driver's predictor (built once: a ``.pt`` is exported to ONNX before any
            engine starts); ``local`` runs it, ``ray`` reads from it what its actors load.
        backend: the name of the predictor's backend.
        weights: the resolved model file (``.pt`` or ``.onnx``).
        device: ``cpu`` or a CUDA index.
        options: post-processing settings (``options.batch``: images per forward pass).
        embeddings: also return pooled features.
        chunk: images per chunk handed back (and written) at a time.
        address: the Ray cluster (``ray`` only): None (a local Ray started for the command),
            ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``.
        workers: model replicas (``ray``: actors, each with one model; None: one per CPU of
            the cluster, or per GPU with a CUDA ``device``).
        root: the workspace folder (backends keep their exported models under it).
    """

    ids: list[Any]
    paths: list[str]
    predictor: Predictor
    backend: str
    weights: str
    device: str
    options: PredictOptions
    embeddings: bool
    chunk: int
    address: str | None = None
    workers: int | None = None
    root: str = ""


#: ``job -> chunks, as the engine finishes them``
Engine = Callable[[InferenceJob], Iterator[Chunk]]


def local_engine(job: InferenceJob) -> Iterator[Chunk]:
    """Run ``job.predictor`` in this process, one chunk after the other."""
    for start in range(0, len(job.ids), job.chunk):
        preds, emb = job.predictor.predict(job.paths[start:start + job.chunk], job.options,
                                           job.embeddings)
        yield job.ids[start:start + job.chunk], preds, emb


def ray_engine(job: InferenceJob) -> Iterator[Chunk]:
    """Run the job on a Ray cluster (see :func:`workbench.prediction.ray_engine.run`)."""
    from workbench.prediction.ray_engine import run

    yield from run(job)


ENGINES: Registry[Engine] = Registry("engine")
ENGINES.register("local", local_engine, tta=True, in_process=True,
                 help="this process (the backend's threads on this machine).")
ENGINES.register("ray", ray_engine, tta=False, in_process=False,
                 help='a Ray cluster (--address): Ray Data streams the images to --workers '
                      'actors, one model each (pip install "ray[data]").')
