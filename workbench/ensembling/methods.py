"""The fusion methods of ``workbench ensemble --method``: one registered callable each.

A method takes the member prediction sets (same image indices), one weight per member, the IoU
threshold and the confidence below which member boxes are ignored, and returns the fused boxes
with the per-box ``agreement`` (how many members back each fused box). Adding a method is one
:meth:`~workbench.registry.Registry.register` call below. Light at import: numpy and
:mod:`workbench.core.fusion`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from workbench.core.fusion import nms_fusion, weighted_boxes_fusion
from workbench.core.types import Predictions
from workbench.registry import Registry

__all__ = ["METHODS", "FusionMethod", "method_help"]

#: ``method(members, weights (one per member), iou, skip_conf) -> (fused Predictions (F boxes),
#: agreement (F,))``.
FusionMethod = Callable[[Sequence[Predictions], Sequence[float], float, float],
                        tuple[Predictions, npt.NDArray[np.int64]]]

METHODS: Registry[FusionMethod] = Registry("fusion method")


def _wbf(members: Sequence[Predictions], weights: Sequence[float], iou: float,
         skip_conf: float) -> tuple[Predictions, npt.NDArray[np.int64]]:
    return weighted_boxes_fusion(members, weights, iou=iou, skip_conf=skip_conf)


def _nms(members: Sequence[Predictions], weights: Sequence[float], iou: float,
         skip_conf: float) -> tuple[Predictions, npt.NDArray[np.int64]]:
    return nms_fusion(members, weights, iou=iou, skip_conf=skip_conf)


def _soft_nms(members: Sequence[Predictions], weights: Sequence[float], iou: float,
              skip_conf: float) -> tuple[Predictions, npt.NDArray[np.int64]]:
    return nms_fusion(members, weights, iou=iou, soft=True, skip_conf=skip_conf)


METHODS.register(
    "wbf", _wbf,
    help="weighted boxes fusion: overlapping boxes of one class become one box, their "
         "score-weighted mean; confidence = mean score x (members that found it / members)")
METHODS.register(
    "nms", _nms,
    help="greedy NMS over every member's boxes: the best box of each overlapping group is kept "
         "as it is, the others dropped")
METHODS.register(
    "soft-nms", _soft_nms,
    help="Gaussian soft-NMS (sigma 0.5): overlapping boxes are kept with decayed scores "
         "instead of dropped")


def method_help() -> str:
    """``wbf: ...; nms: ...; soft-nms: ...`` for the CLI's ``--method`` help."""
    return "; ".join(f"{e.name}: {e.meta['help']}" for e in METHODS)
