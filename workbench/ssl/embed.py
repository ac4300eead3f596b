"""``workbench ssl embed``: pooled features of a pretrained backbone, stored and indexed.

Each image is letterboxed to the run's crop size (the detector's own preprocessing), passed
through the backbone, average-pooled and L2-normalised (:mod:`workbench.ssl.features`), and
written as ``emb_<run>`` in bulk, chunk by chunk as the engine (:mod:`workbench.ssl.engines`:
this process, or actors on a Ray cluster) hands the features back.
The field is then mapped to 2-D for the App's Embeddings panel (brain key ``viz_<run>``) and
indexed for similarity search (``sim_<run>``); ``select --diversity coreset|cluster
--embeddings emb_<run>`` reads it like the embeddings of ``predict --embeddings``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.ssl.config import EmbedConfig, EmbedResult
from workbench.ssl.engines import ENGINES, EmbedJob
from workbench.ssl.features import Progress
from workbench.ssl.pretrain import detector_checkpoint, view_images
from workbench.store import lock, predicted, runs, similarity, ssl_embeddings, visualization
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace


def pretrained_run(ws: Workspace, run: str) -> dict[str, Any]:
    """The record of pretraining run ``run``.

    Raises:
        WorkbenchError: no such pretraining run in the workspace.
    """
    doc = runs.get_run(ws, run, kind=RunKind.SSL_PRETRAIN)
    if doc is None:
        names = [str(d["_id"]) for d in runs.list_runs(ws, RunKind.SSL_PRETRAIN)]
        raise WorkbenchError(f"no pretraining run named {run!r} in this workspace; runs: "
                             f"{names or 'none (run `workbench ssl pretrain`)'}")
    return doc


def pretrained_checkpoint(ws: Workspace, run: str) -> Path:
    """The detector checkpoint of pretraining run ``run``.

    Raises:
        WorkbenchError: no such run, or it finished no epoch yet.
    """
    pretrained_run(ws, run)
    path = detector_checkpoint(ws, run)
    if not path.is_file():
        raise WorkbenchError(f"pretraining run {run!r} has no checkpoint yet ({path}); let it "
                             "finish an epoch, or resume it with --resume")
    return path


def embedded_ids(ws: Workspace, view: str, run: str) -> set[Any]:
    """Ids of the samples of ``view`` (parts joined by ``|``) that hold ``emb_<run>``."""
    field = ssl_embeddings.embeddings_field(run)
    return set().union(*(predicted.predicted_ids(ws, part.strip(), field)
                         for part in view.split("|") if part.strip()))


def embed_view(ws: Workspace, config: EmbedConfig,
               progress: Progress | None = None) -> EmbedResult:
    """Write ``emb_<run>`` on ``config.view`` and register its 2-D map and similarity index.

    The engine (``config.engine``) hands back chunks of features as it finishes them; each is
    written and kept (:func:`~workbench.store.lock.checkpoint`) before the next, so a killed
    embed loses only the chunk in flight and ``--resume`` embeds what is missing.

    Raises:
        WorkbenchError: unknown run or no checkpoint, empty view, unreadable image, a
            visualization method whose package is missing; RayUnavailableError /
            RayClusterError (``ray`` engine).
    """
    started = time.perf_counter()
    if config.visualization != "none":
        visualization.require_method(config.visualization)
    checkpoint = pretrained_checkpoint(ws, config.run)
    imgsz = int((pretrained_run(ws, config.run).get("params") or {}).get("imgsz", 160))
    ids, paths = view_images(ws, config.view)
    if not ids:
        raise WorkbenchError(f"the view {config.view!r} has no images to embed")
    done = embedded_ids(ws, config.view, config.run) if config.resume else set()
    todo = [k for k, i in enumerate(ids) if i not in done]
    job = EmbedJob(paths=[paths[k] for k in todo], checkpoint=str(checkpoint), imgsz=imgsz,
                   batch=config.batch, device=config.device, chunk=config.chunk,
                   address=config.address, workers=config.workers)
    field, dim, written = ssl_embeddings.embeddings_field(config.run), 0, 0
    for positions, emb in ENGINES.get(config.engine)(job) if todo else ():
        field = ssl_embeddings.write_embeddings(
            ws, config.run, [ids[todo[p]] for p in positions.tolist()], emb)
        dim, written = int(emb.shape[1]), written + len(positions)
        lock.checkpoint(ws)  # a kill from here on keeps this chunk: --resume goes on
        if progress:
            progress(len(done) + written, len(ids))
    viz_key = sim_key = None
    if config.visualization != "none" and len(ids) >= visualization.MIN_POINTS:
        viz_key = visualization.compute_visualization(
            ws, field, visualization.visualization_key(config.run),
            config.visualization)["brain_key"]
    if config.similarity:
        sim_key = similarity.compute_similarity(
            ws, field, similarity.similarity_key(config.run))["brain_key"]
    result = EmbedResult(run=config.run, embeddings_field=field, images=len(ids),
                         dim=dim or ssl_embeddings.dimension(ws, config.run),
                         seconds=round(time.perf_counter() - started, 2),
                         visualization_key=viz_key, similarity_key=sim_key,
                         engine=config.engine, embedded=written, skipped=len(done))
    runs.update_run(ws, config.run, set_={"embeddings": result.to_dict()})
    return result
