"""Pooled backbone features of images: the computation of ``ssl embed`` and ``ssl probe``.

Pure torch on files and arrays: no store, no FiftyOne, so the Ray actors of ``ssl embed
--engine ray`` (:class:`Embedder`) import it alone. Each image is letterboxed to the run's crop
size (the detector's own preprocessing), passed through the backbone, average-pooled and
L2-normalised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.ssl.backbone import backbone_of, build_detector

#: ``progress(images done, total)``.
Progress = Callable[[int, int], None]


def torch_device(device: str) -> Any:
    """``cpu`` or a CUDA index as a ``torch.device``.

    Raises:
        WorkbenchError: a CUDA device was asked for and none is available.
    """
    import torch

    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise WorkbenchError(f"--device {device}: no CUDA device is available here; use "
                             "--device cpu")
    return torch.device(f"cuda:{device}")


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


def pooled_features(backbone: Any, batches: Iterable[Any], device: str = "cpu") -> np.ndarray:
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
    from workbench.media.preprocess import load_batch

    def batches() -> Any:
        for start in range(0, len(paths), batch):
            yield load_batch(paths[start:start + batch], imgsz)[0]
            if progress:
                progress(min(start + batch, len(paths)), len(paths))

    return pooled_features(backbone, batches(), device)


class Embedder:
    """The Ray actor of ``ssl embed --engine ray``: one backbone, a batch of paths in, its
    ``(B, C)`` features out (see :func:`workbench.raypool.stream`).

    ``spec``: ``checkpoint``, ``imgsz``, ``device`` (``cpu``, or ``0``: the actor's GPU) and
    ``threads`` (torch intra-op threads: the actor is the unit of parallelism).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(int(spec["threads"]))
        self.device = str(spec["device"])
        self.imgsz = int(spec["imgsz"])
        self.backbone = load_backbone(str(spec["checkpoint"]), self.device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """``{"index": (B,), "embeddings": (B, C) float32}`` of ``batch["path"]``."""
        paths = [str(p) for p in batch["path"]]
        emb = image_features(self.backbone, paths, self.imgsz, max(1, len(paths)), self.device)
        return {"index": batch["index"], "embeddings": emb}
