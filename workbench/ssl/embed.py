"""``workbench ssl embed``: pooled features of a pretrained backbone, stored and indexed.

Each image is letterboxed to the run's crop size (the detector's own preprocessing), passed
through the backbone, average-pooled and L2-normalised, and written as ``emb_<run>`` in bulk.
The field is then mapped to 2-D for the App's Embeddings panel (brain key ``viz_<run>``) and
indexed for similarity search (``sim_<run>``); ``select --diversity coreset|cluster
--embeddings emb_<run>`` reads it like the embeddings of ``predict --embeddings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.ssl.backbone import backbone_of, build_detector
from workbench.ssl.config import EmbedConfig, EmbedResult
from workbench.ssl.pretrain import detector_checkpoint, torch_device, view_images
from workbench.store import runs, similarity, ssl_embeddings, visualization
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

#: ``progress(images done, total)``.
Progress = Callable[[int, int], None]


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


def load_backbone(checkpoint: str, device: str = "cpu", fresh: bool = False,
                  seed: int = 0) -> Any:
    """The eval-mode backbone of a detector checkpoint (``fresh``: the same architecture,
    randomly initialised with ``seed``, for baselines)."""
    import torch

    detector = build_detector(checkpoint)
    if fresh:
        torch.manual_seed(seed)
        from ultralytics.nn.tasks import DetectionModel

        detector = DetectionModel(detector.yaml, nc=detector.yaml.get("nc"), verbose=False)
    return backbone_of(detector).to(torch_device(device)).eval()


def pooled_features(backbone: Any, batches: Any, device: str = "cpu") -> np.ndarray:
    """``(N, C)`` L2-normalised pooled features of ``(B, 3, S, S)`` float batches in ``[0, 1]``."""
    import torch

    dev = torch_device(device)
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for batch in batches:
            x = torch.as_tensor(np.asarray(batch, dtype=np.float32), device=dev)
            feats = torch.nn.functional.normalize(backbone(x).mean(dim=(2, 3)), dim=1)
            out.append(feats.cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def image_features(backbone: Any, paths: list[str], imgsz: int, batch: int,
                   device: str = "cpu", progress: Progress | None = None) -> np.ndarray:
    """``(N, C)`` features of image files, letterboxed to ``imgsz`` as the detector sees them."""
    from workbench.prediction.api import load_batch

    def batches() -> Any:
        for start in range(0, len(paths), batch):
            yield load_batch(paths[start:start + batch], imgsz)[0]
            if progress:
                progress(min(start + batch, len(paths)), len(paths))

    return pooled_features(backbone, batches(), device)


def embed_view(ws: Workspace, config: EmbedConfig,
               progress: Progress | None = None) -> EmbedResult:
    """Write ``emb_<run>`` on ``config.view`` and register its 2-D map and similarity index.

    Raises:
        WorkbenchError: unknown run or no checkpoint, empty view, unreadable image, a
            visualization method whose package is missing.
    """
    started = time.perf_counter()
    if config.visualization != "none":
        visualization.require_method(config.visualization)
    checkpoint = pretrained_checkpoint(ws, config.run)
    imgsz = int((pretrained_run(ws, config.run).get("params") or {}).get("imgsz", 160))
    ids, paths = view_images(ws, config.view)
    if not ids:
        raise WorkbenchError(f"the view {config.view!r} has no images to embed")
    backbone = load_backbone(str(checkpoint), config.device)
    emb = image_features(backbone, paths, imgsz, config.batch, config.device, progress)
    field = ssl_embeddings.write_embeddings(ws, config.run, ids, emb)
    viz_key = sim_key = None
    if config.visualization != "none" and len(ids) >= visualization.MIN_POINTS:
        viz_key = visualization.compute_visualization(
            ws, field, visualization.visualization_key(config.run),
            config.visualization)["brain_key"]
    if config.similarity:
        sim_key = similarity.compute_similarity(
            ws, field, similarity.similarity_key(config.run))["brain_key"]
    result = EmbedResult(run=config.run, embeddings_field=field, images=len(ids),
                         dim=int(emb.shape[1]), seconds=round(time.perf_counter() - started, 2),
                         visualization_key=viz_key, similarity_key=sim_key)
    runs.update_run(ws, config.run, set_={"embeddings": result.to_dict()})
    return result
