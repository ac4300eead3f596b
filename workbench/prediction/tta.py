"""Test-time augmentation (``predict --tta``): the passes, their box geometry, and fusion.

A pass of :data:`TTA_PASSES` is an image transform applied to the decoded ``uint8`` image
before letterboxing (flips, quarter turns) and/or other input sizes (``scale``), with the exact
inverse of the transform on normalised ``xyxy`` boxes, so every pass's boxes come back in the
frame of the original image. Quarter turns swap width and height; the letterbox is fitted to
the turned image, and the inverse works on normalised corners, so no size is needed.

Vertical flips and rotations suit data without a canonical "up" (underwater, aerial,
microscopy); on street scenes, documents or people standing they show the model images it
never saw and add noise, not information. ``hflip`` and ``scale`` keep "up" and are the
default.

:data:`FUSION_METHODS` fuses the reference pass and the TTA passes into one set of boxes
(``predict --tta --fuse``) with :mod:`workbench.core.fusion`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.core.fusion import nms_fusion, weighted_boxes_fusion
from workbench.core.types import Predictions
from workbench.registry import Registry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: ``(H, W, C)`` (or ``(H, W)``) pixels -> the transformed pixels (``(W, H, C)`` for a turn).
ImageFn = Callable[[np.ndarray], np.ndarray]
#: ``(members, iou) -> (fused Predictions (F boxes), agreement (F,))``
Fuser = Callable[[Sequence[Predictions], float], tuple[Predictions, IntArray]]


@dataclass(frozen=True)
class BoxMap:
    """A box transform of normalised corners: ``out[:, j] = offset[j] + sign[j] * b[:, perm[j]]``.

    Every flip and quarter turn of the unit square is one of these (``sign`` is ±1), so the
    inverse is exact and computed, not written by hand.

    Attributes:
        perm: source corner of each output corner (a permutation of ``0..3``).
        sign: ``+1`` or ``-1`` per output corner; offset: ``0`` or ``1`` per output corner.
    """

    perm: tuple[int, int, int, int]
    sign: tuple[float, float, float, float]
    offset: tuple[float, float, float, float]

    def apply(self, xyxy: npt.ArrayLike) -> FloatArray:
        """``(K, 4)`` normalised ``xyxy`` -> ``(K, 4)`` transformed (``x1 <= x2`` kept)."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        return np.asarray(np.asarray(self.offset) + np.asarray(self.sign) * b[:, list(self.perm)])

    def inverse(self, xyxy: npt.ArrayLike) -> FloatArray:
        """``(K, 4)`` transformed corners -> the corners :meth:`apply` was given."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        back = np.asarray(self.sign) * (b - np.asarray(self.offset))  # = xyxy[:, perm]
        return np.asarray(back[:, np.argsort(self.perm)])


@dataclass(frozen=True)
class Transform:
    """An image transform and what it does to boxes.

    Attributes:
        image: the pixel transform, applied to the decoded image before letterboxing.
        boxes: the same transform on normalised ``xyxy`` corners (original -> transformed).
    """

    image: ImageFn
    boxes: BoxMap

    def forward(self, xyxy: npt.ArrayLike) -> FloatArray:
        """``(K, 4)`` normalised boxes of the original image -> of the transformed image."""
        return self.boxes.apply(xyxy)

    def inverse(self, xyxy: npt.ArrayLike) -> FloatArray:
        """``(K, 4)`` normalised boxes of the transformed image -> of the original image."""
        return self.boxes.inverse(xyxy)


@dataclass(frozen=True)
class TTAPass:
    """One ``--tta-passes`` name: a transform, input sizes, or both.

    Attributes:
        transform: the image transform (None: the image as it is).
        scales: input sizes relative to the model's (rounded to multiples of 32); one
            prediction pass per scale.
    """

    transform: Transform | None = None
    scales: tuple[float, ...] = (1.0,)


@dataclass(frozen=True)
class PassPlan:
    """One prediction pass to run.

    Attributes:
        label: the pass's name in the run's params (``hflip``, ``scale:0.83``).
        imgsz: the model input size of the pass.
        transform: its image transform, or None.
    """

    label: str
    imgsz: int
    transform: Transform | None


def _contiguous(fn: ImageFn) -> ImageFn:
    return lambda img: np.ascontiguousarray(fn(img))


def _transform(fn: ImageFn, perm: tuple[int, int, int, int], sign: tuple[float, ...]) -> Transform:
    signs = (float(sign[0]), float(sign[1]), float(sign[2]), float(sign[3]))
    offset = (float(sign[0] < 0), float(sign[1] < 0), float(sign[2] < 0), float(sign[3] < 0))
    return Transform(_contiguous(fn), BoxMap(perm, signs, offset))


#: The pixel transforms: ``(x, y)`` -> ``hflip (1-x, y)``, ``vflip (x, 1-y)``,
#: ``rot90`` (counter-clockwise, as :func:`numpy.rot90`) ``(y, 1-x)``,
#: ``rot180 (1-x, 1-y)``, ``rot270`` (clockwise) ``(1-y, x)``.
HFLIP = _transform(lambda a: a[:, ::-1], (2, 1, 0, 3), (-1, 1, -1, 1))
VFLIP = _transform(lambda a: a[::-1], (0, 3, 2, 1), (1, -1, 1, -1))
ROT90 = _transform(lambda a: np.rot90(a, 1), (1, 2, 3, 0), (1, -1, 1, -1))
ROT180 = _transform(lambda a: a[::-1, ::-1], (2, 3, 0, 1), (-1, -1, -1, -1))
ROT270 = _transform(lambda a: np.rot90(a, 3), (3, 0, 1, 2), (-1, 1, -1, 1))

_NO_UP = "for data without a canonical up (underwater, aerial, microscopy), not street scenes"
TTA_PASSES: Registry[TTAPass] = Registry("TTA pass name")
TTA_PASSES.register("hflip", TTAPass(HFLIP), keeps_up=True, help="horizontal flip")
TTA_PASSES.register("vflip", TTAPass(VFLIP), keeps_up=False, help=f"vertical flip, {_NO_UP}")
TTA_PASSES.register("rot90", TTAPass(ROT90), keeps_up=False,
                    help=f"quarter turn counter-clockwise, {_NO_UP}")
TTA_PASSES.register("rot180", TTAPass(ROT180), keeps_up=False, help=f"half turn, {_NO_UP}")
TTA_PASSES.register("rot270", TTAPass(ROT270), keeps_up=False,
                    help=f"quarter turn clockwise, {_NO_UP}")
TTA_PASSES.register("scale", TTAPass(None, (0.83, 1.17)), keeps_up=True,
                    help="inputs 0.83x and 1.17x the model's size (two passes)")


def tta_pass_help() -> str:
    """The ``--tta-passes`` help: the names, which keep "up", and when to use the others."""
    keep = ", ".join(TTA_PASSES.names(keeps_up=True))
    turn = ", ".join(TTA_PASSES.names(keeps_up=False))
    return (f"Comma-separated TTA passes ({TTA_PASSES.choices()}). {keep} keep the image's "
            f"'up'; {turn} (vertical flip, rotations) suit data without a canonical up "
            "(underwater, aerial, microscopy), not street scenes.")


def plan_passes(names: Sequence[str], base: int, fixed_size: bool) -> list[PassPlan]:
    """The prediction passes of ``names`` for a model of input size ``base``.

    A scale whose size (a multiple of 32, at least 32) equals ``base`` is dropped; with
    ``fixed_size`` (a ``.onnx`` exported at one size) every scale other than 1 is.

    Raises:
        UnknownNameError: a name is not in :data:`TTA_PASSES` (lists the valid ones).
    """
    plans: list[PassPlan] = []
    for name in names:
        tta_pass = TTA_PASSES.get(name)
        for factor in tta_pass.scales:
            size = base if factor == 1.0 else max(32, round(base * factor / 32) * 32)
            if factor != 1.0 and (size == base or fixed_size):
                continue
            label = name if len(tta_pass.scales) == 1 else f"{name}:{factor:g}"
            plans.append(PassPlan(label, size, tta_pass.transform))
    return plans


def _wbf(members: Sequence[Predictions], iou: float) -> tuple[Predictions, IntArray]:
    return weighted_boxes_fusion(members, iou=iou)


def _nms(members: Sequence[Predictions], iou: float) -> tuple[Predictions, IntArray]:
    return nms_fusion(members, iou=iou)


FUSION_METHODS: Registry[Fuser] = Registry("fusion method")
FUSION_METHODS.register("wbf", _wbf, help="weighted boxes fusion: corners and class vectors "
                        "averaged over the passes that found a box")
FUSION_METHODS.register("nms", _nms, help="NMS over all passes' boxes: the best box is kept "
                        "as it is")


def fuse(members: Sequence[Predictions], method: str, iou: float
         ) -> tuple[Predictions, IntArray]:
    """Fuse the passes ``members`` (same images, same class order) with ``method``.

    Returns:
        The fused boxes (``F``) and ``(F,)`` agreement: how many passes found each.

    Raises:
        UnknownNameError: ``method`` is not in :data:`FUSION_METHODS`.
    """
    return FUSION_METHODS.get(method)(members, iou)
