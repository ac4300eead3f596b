"""The self-supervised methods, composed from lightly's heads, losses and transforms.

Each method is registered explicitly in :data:`METHODS` as a :class:`Method`: a builder of the
trainable module around the detector's backbone and a builder of the augmentation that turns
one image into its views. The module's :meth:`SSLModule.loss` takes the views of a batch and
the schedule's progress (momentum methods anneal their teacher with it).

Inputs stay in ``[0, 1]`` without normalisation, as the detector sees them, so the pretrained
backbone is used by the detector as it was trained. Torch and lightly are imported when a
method is built, never at import.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

#: ``transform(PIL image) -> list of (3, S, S) float tensors`` (the views of one image).
Transform = Callable[[Any], list[Any]]


@dataclass(frozen=True)
class Method:
    """A self-supervised method.

    Attributes:
        build: ``build(backbone, feature_dim) -> SSLModule``.
        transform: ``transform(imgsz) -> Transform``.
    """

    build: Callable[[nn.Module, int], Any]
    transform: Callable[[int], Transform]


def _pooled(backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Global-average-pooled backbone features ``(B, C)`` of images ``(B, 3, H, W)``."""
    return backbone(x).mean(dim=(2, 3))


def _base() -> type:
    from torch import nn

    class SSLModule(nn.Module):
        """A backbone plus the method's heads; :meth:`loss` is one training step's loss."""

        backbone: nn.Module

        def loss(self, views: list[torch.Tensor], progress: float,
                 epoch: int) -> torch.Tensor:  # pragma: no cover - abstract
            raise NotImplementedError

    return SSLModule


def _momentum(progress: float, start: float = 0.99) -> float:
    from lightly.utils.scheduler import cosine_schedule

    return float(cosine_schedule(int(progress * 1000), 1000, start, 1.0))


def build_simclr(backbone: nn.Module, dim: int) -> Any:
    """SimCLR: NT-Xent between the projections of two views (temperature 0.2)."""
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    class SimCLR(_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = SimCLRProjectionHead(dim, 512, 128)
            self.criterion = NTXentLoss(temperature=0.2)

        def loss(self, views: list[torch.Tensor], progress: float, epoch: int) -> torch.Tensor:
            z0, z1 = (self.head(_pooled(self.backbone, v)) for v in views[:2])
            out: torch.Tensor = self.criterion(z0, z1)
            return out

    return SimCLR()


def build_moco(backbone: nn.Module, dim: int) -> Any:
    """MoCo v2: a momentum key encoder and a memory bank of 4096 negatives."""
    from lightly.loss import NTXentLoss
    from lightly.models.modules import MoCoProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    class MoCo(_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = MoCoProjectionHead(dim, 512, 128)
            self.backbone_momentum = copy.deepcopy(backbone)
            self.head_momentum = copy.deepcopy(self.head)
            deactivate_requires_grad(self.backbone_momentum)
            deactivate_requires_grad(self.head_momentum)
            self.criterion = NTXentLoss(temperature=0.2, memory_bank_size=(4096, 128))

        def loss(self, views: list[torch.Tensor], progress: float, epoch: int) -> torch.Tensor:
            import torch

            m = _momentum(progress)
            update_momentum(self.backbone, self.backbone_momentum, m)
            update_momentum(self.head, self.head_momentum, m)
            query = self.head(_pooled(self.backbone, views[0]))
            with torch.no_grad():
                key = self.head_momentum(_pooled(self.backbone_momentum, views[1]))
            out: torch.Tensor = self.criterion(query, key)
            return out

    return MoCo()


def build_byol(backbone: nn.Module, dim: int) -> Any:
    """BYOL: an online predictor regresses a momentum target's projection (symmetrised)."""
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    class BYOL(_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.projection = BYOLProjectionHead(dim, 512, 128)
            self.prediction = BYOLPredictionHead(128, 512, 128)
            self.backbone_momentum = copy.deepcopy(backbone)
            self.projection_momentum = copy.deepcopy(self.projection)
            deactivate_requires_grad(self.backbone_momentum)
            deactivate_requires_grad(self.projection_momentum)
            self.criterion = NegativeCosineSimilarity()

        def loss(self, views: list[torch.Tensor], progress: float, epoch: int) -> torch.Tensor:
            import torch

            m = _momentum(progress)
            update_momentum(self.backbone, self.backbone_momentum, m)
            update_momentum(self.projection, self.projection_momentum, m)
            x0, x1 = views[:2]
            p0 = self.prediction(self.projection(_pooled(self.backbone, x0)))
            p1 = self.prediction(self.projection(_pooled(self.backbone, x1)))
            with torch.no_grad():
                z0 = self.projection_momentum(_pooled(self.backbone_momentum, x0))
                z1 = self.projection_momentum(_pooled(self.backbone_momentum, x1))
            out: torch.Tensor = 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))
            return out

    return BYOL()


def build_dino(backbone: nn.Module, dim: int) -> Any:
    """DINO: a student matches a momentum teacher's centred, sharpened output (2 global +
    2 local crops; output 2048 prototypes, small enough for a CPU)."""
    from lightly.loss import DINOLoss
    from lightly.models.modules import DINOProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    class DINO(_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.head = DINOProjectionHead(dim, 512, 64, 2048)
            self.backbone_momentum = copy.deepcopy(backbone)
            self.head_momentum = DINOProjectionHead(dim, 512, 64, 2048)
            self.head_momentum.load_state_dict(self.head.state_dict())
            deactivate_requires_grad(self.backbone_momentum)
            deactivate_requires_grad(self.head_momentum)
            self.criterion = DINOLoss(output_dim=2048, warmup_teacher_temp_epochs=5)

        def loss(self, views: list[torch.Tensor], progress: float, epoch: int) -> torch.Tensor:
            import torch

            m = _momentum(progress, 0.996)
            update_momentum(self.backbone, self.backbone_momentum, m)
            update_momentum(self.head, self.head_momentum, m)
            with torch.no_grad():
                teacher = [self.head_momentum(_pooled(self.backbone_momentum, v))
                           for v in views[:2]]
            student = [self.head(_pooled(self.backbone, v)) for v in views]
            out: torch.Tensor = self.criterion(teacher, student, epoch=epoch)
            return out

    return DINO()


def _two_views(kind: str) -> Callable[[int], Transform]:
    def make(imgsz: int) -> Transform:
        if kind == "simclr":
            from lightly.transforms import SimCLRTransform

            t: Transform = SimCLRTransform(input_size=imgsz, normalize=None, min_scale=0.2)
        elif kind == "moco":
            from lightly.transforms import MoCoV2Transform

            t = MoCoV2Transform(input_size=imgsz, normalize=None, min_scale=0.2)
        else:
            from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform

            t = BYOLTransform(BYOLView1Transform(input_size=imgsz, normalize=None, min_scale=0.2),
                              BYOLView2Transform(input_size=imgsz, normalize=None, min_scale=0.2))
        return t

    return make


def _dino_views(imgsz: int) -> Transform:
    from lightly.transforms import DINOTransform

    local = max(64, (imgsz // 2) // 32 * 32)
    t: Transform = DINOTransform(global_crop_size=imgsz, local_crop_size=local, n_local_views=2,
                                 normalize=None)
    return t


METHODS: Registry[Method] = Registry("SSL method")
METHODS.register("simclr", Method(build_simclr, _two_views("simclr")),
                 help="SimCLR: contrastive, two views, negatives from the batch")
METHODS.register("byol", Method(build_byol, _two_views("byol")),
                 help="BYOL: no negatives; predictor + momentum target")
METHODS.register("dino", Method(build_dino, _dino_views),
                 help="DINO: self-distillation with a momentum teacher, 2 global + 2 local crops")
METHODS.register("moco", Method(build_moco, _two_views("moco")),
                 help="MoCo v2: contrastive against a momentum memory bank of negatives")
