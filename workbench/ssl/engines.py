"""Where ``ssl embed`` runs the backbone over the images of a view.

An engine turns an :class:`EmbedJob` into an iterator of chunks ``(positions, embeddings)``:
``(n,)`` positions into ``job.paths`` and their ``(n, C)`` L2-normalised pooled features, in
the order it finishes them; :func:`workbench.ssl.embed.embed_view` writes each chunk as it
arrives, the same way for every engine. :data:`ENGINES` maps the ``--engine`` names to them
(the same names as ``predict --engine``): ``local`` runs in this process, ``ray`` on a Ray
cluster (:mod:`workbench.raypool`, one backbone per actor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from workbench.registry import Registry

#: ``((n,) int64 positions into the job's paths, (n, C) float32 features)``
EmbedChunk = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class EmbedJob:
    """What an engine embeds.

    Attributes:
        paths: ``N`` image files (readable where the engine runs them).
        checkpoint: the detector checkpoint whose backbone embeds.
        imgsz: letterbox size (the pretraining run's crop size).
        batch: images per forward pass (``ray``: per actor call).
        device: ``cpu`` or a CUDA index (``ray``: one GPU per actor).
        chunk: images per chunk handed back (and written) at a time.
        address: the Ray cluster (``ray`` only), as in ``predict --address``.
        workers: ``ray`` actors, one backbone each (None: one per CPU, or GPU, of the cluster).
    """

    paths: list[str]
    checkpoint: str
    imgsz: int
    batch: int
    device: str
    chunk: int
    address: str | None = None
    workers: int | None = None


EmbedEngine = Callable[[EmbedJob], Iterator[EmbedChunk]]


def local_engine(job: EmbedJob) -> Iterator[EmbedChunk]:
    """Embed in this process, one chunk after the other."""
    from workbench.ssl.features import image_features, load_backbone

    backbone = load_backbone(job.checkpoint, job.device)
    for start in range(0, len(job.paths), job.chunk):
        part = job.paths[start:start + job.chunk]
        emb = image_features(backbone, part, job.imgsz, job.batch, job.device)
        yield np.arange(start, start + len(part), dtype=np.int64), emb


def ray_engine(job: EmbedJob) -> Iterator[EmbedChunk]:
    """Embed on a Ray cluster: :class:`~workbench.ssl.features.Embedder` actors, one
    backbone each with one torch thread (the actor is the unit of parallelism)."""
    from workbench.raypool import stream
    from workbench.ssl.features import Embedder

    gpu = job.device != "cpu"
    spec = {"checkpoint": job.checkpoint, "imgsz": job.imgsz, "threads": 1,
            "device": "0" if gpu else "cpu"}  # Ray shows an actor only its GPU
    for parts in stream(job.paths, Embedder, spec, address=job.address, batch=job.batch,
                        chunk=job.chunk, workers=job.workers, gpu=gpu):
        yield (np.concatenate([p["index"] for p in parts]),
               np.concatenate([p["embeddings"] for p in parts]))


ENGINES: Registry[EmbedEngine] = Registry("engine")
ENGINES.register("local", local_engine, help="this process (torch's threads on this machine).")
ENGINES.register("ray", ray_engine,
                 help='a Ray cluster (--address): Ray Data streams the images to --workers '
                      'actors, one backbone each (pip install "ray[data]").')
