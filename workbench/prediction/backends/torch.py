"""The ``ultralytics`` backend: a local ``.pt`` run with torch, post-processed by workbench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError
from workbench.prediction.backends.base import Predictor


def load_detection_model(weights: str) -> tuple[Any, list[str], int]:
    """The eval-mode float32 ``DetectionModel``, its class names and its training imgsz."""
    if not Path(weights).is_file():
        raise ConfigError(f"model weights {weights!r} not found (nothing is downloaded)")
    from workbench.training.api import offline_environment

    offline_environment()
    from ultralytics import YOLO

    yolo = YOLO(weights)
    model: Any = yolo.model
    net = model.float().eval()
    names = [yolo.names[i] for i in range(len(yolo.names))]
    imgsz = int((getattr(net, "args", None) or {}).get("imgsz", 640))
    return net, names, imgsz


class PooledFeatures:
    """A forward hook that keeps the global-average-pooled output of one layer."""

    def __init__(self, net: Any) -> None:
        backbone = len(net.yaml["backbone"])
        self.value: Any = None
        self.handle = net.model[backbone - 1].register_forward_hook(self._hook)

    def _hook(self, module: Any, inputs: Any, output: Any) -> None:
        self.value = output.mean(dim=(2, 3))


class TorchPredictor(Predictor):
    """Ultralytics weights on CPU or CUDA."""

    def __init__(self, weights: str, imgsz: int | None = None, device: str = "cpu") -> None:
        import torch

        self.net, self.names, trained = load_detection_model(weights)
        self.imgsz = imgsz or trained
        self.device = torch.device("cpu" if device == "cpu" else f"cuda:{device}")
        self.net.to(self.device)
        self.features = PooledFeatures(self.net)

    def forward(self, batch: np.ndarray, embeddings: bool) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        with torch.inference_mode():
            y = self.net(torch.from_numpy(batch).to(self.device))
        out = y[0] if isinstance(y, list | tuple) else y
        feats = self.features.value.cpu().numpy() if embeddings else None
        return out.float().cpu().numpy(), feats
