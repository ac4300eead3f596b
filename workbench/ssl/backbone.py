"""The detector's own backbone, taken out for pretraining and put back as a detector checkpoint.

The backbone is the leading layers of the Ultralytics ``DetectionModel`` up to and including
its SPPF block (layers that each take the previous one's output); pretraining trains *those
module objects*, so putting them back is writing the detector they belong to. The checkpoint
has Ultralytics' own layout (``{"model": DetectionModel, "train_args": ...}``, fp32), so
``workbench train --model X.pt`` (and ``predict``, ``loop``) load it like any ``.pt``: the
trainer rebuilds the model for the workspace's classes and copies every matching tensor.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError
from workbench.training.api import offline_environment, resolve_model

if TYPE_CHECKING:
    from torch import nn

#: Ultralytics' spatial-pyramid pooling blocks: where a YOLO backbone ends.
_SPP = ("SPPF", "SPP", "SPPELAN")


def build_detector(spec: str, nc: int | None = None) -> Any:
    """The float32 ``DetectionModel`` of ``spec`` (a model YAML built from scratch, or a local
    ``.pt``), with ``nc`` classes when built from YAML. Nothing downloads.

    Raises:
        ConfigError: unknown or broken model spec.
    """
    resolved = resolve_model(spec)
    offline_environment()
    try:
        if resolved.endswith(".pt"):
            from ultralytics import YOLO

            model: Any = YOLO(resolved).model
        else:
            from ultralytics.nn.tasks import DetectionModel

            model = DetectionModel(resolved, nc=nc, verbose=False)
    except Exception as exc:  # Ultralytics raises many kinds for a bad architecture
        raise ConfigError(f"cannot build model {spec!r}: {exc}") from exc
    return model.float()


def architecture(spec: str) -> str:
    """The model YAML ``spec`` is built from: ``spec`` itself for a YAML or name, the
    ``yaml_file`` a ``.pt`` checkpoint records (what "from scratch" means for it).

    Raises:
        ConfigError: a checkpoint that does not say which YAML built it.
    """
    if not resolve_model(spec).endswith(".pt"):
        return spec
    name = (getattr(build_detector(spec), "yaml", None) or {}).get("yaml_file")
    if not name:
        raise ConfigError(f"{spec!r} does not record the model YAML it was built from; "
                          "cannot train the same architecture from scratch")
    return str(name)


def backbone_length(detector: Any) -> int:
    """How many leading layers make the backbone: up to and including the first SPPF block
    of the model's ``backbone`` section (the whole section when it has none, as in
    ``configs/models/micro-relu.yaml``).

    Raises:
        ConfigError: a layer of the backbone reads another layer than its predecessor (not
            a plain chain).
    """
    layers = list(detector.model)
    n = len((getattr(detector, "yaml", None) or {}).get("backbone") or layers)
    spp = [i for i, m in enumerate(layers[:n]) if type(m).__name__ in _SPP]
    n = spp[0] + 1 if spp else n
    if any(getattr(m, "f", -1) != -1 for m in layers[:n]):
        raise ConfigError("the model's backbone layers are not a simple chain; ssl pretrain "
                          "supports YOLO backbones whose layers each take the previous one "
                          "(yolov8, yolo11, configs/models/*)")
    return n


def backbone_of(detector: Any) -> nn.Sequential:
    """The detector's backbone layers (the same module objects, not copies), in order."""
    from torch import nn

    return nn.Sequential(*list(detector.model)[:backbone_length(detector)])


def feature_dim(backbone: nn.Module, imgsz: int = 64) -> int:
    """Channels of the backbone's last feature map (what pooling gives per image)."""
    import torch

    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        dim = int(backbone(torch.zeros(1, 3, imgsz, imgsz)).shape[1])
    backbone.train(was_training)
    return dim


def save_detector(detector: Any, path: Path, meta: dict[str, Any]) -> Path:
    """Write ``detector`` (whose backbone holds the pretrained weights) as an Ultralytics
    checkpoint at ``path`` (written to a temporary file, then renamed).

    Args:
        detector: the ``DetectionModel``.
        path: the ``.pt`` to write.
        meta: plain JSON-like values stored as ``ssl`` (run, method, epochs ...).
    """
    import copy

    import torch

    model = copy.deepcopy(detector).float().cpu().eval()
    for p in model.parameters():
        p.requires_grad_(True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model, "ema": None, "epoch": -1, "optimizer": None,
                "train_args": {"model": str(path), "imgsz": int(meta.get("imgsz", 640))},
                "date": dt.datetime.now(dt.UTC).isoformat(), "ssl": meta}, tmp)
    tmp.replace(path)
    return path


def recalibrate_batchnorm(backbone: nn.Module, batches: Any, device: Any) -> int:
    """Re-estimate the BatchNorm running statistics of ``backbone`` from ``batches``.

    Training normalises with each batch's own statistics while the running averages
    (momentum 0.03 in Ultralytics' layers) lag far behind after a short run: in eval mode the
    backbone then maps every image to nearly the same feature. A no-grad pass in train mode
    with a cumulative average (``momentum=None``) over ``(B, 3, S, S)`` batches of the images
    as the detector sees them fixes the statistics; weights are untouched.

    Returns:
        The number of images seen.
    """
    import torch

    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training, seen = backbone.training, 0
    backbone.train()
    with torch.no_grad():
        for batch in batches:
            x = torch.as_tensor(batch, dtype=torch.float32, device=device)
            backbone(x)
            seen += int(x.shape[0])
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    backbone.train(was_training)
    return seen
