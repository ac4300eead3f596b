"""Augmentation presets of ``workbench train --augment``: named sets of Ultralytics arguments.

Each preset maps Ultralytics' own hyperparameter names (``ultralytics/cfg/default.yaml``) to
values; ``default`` is empty (Ultralytics' defaults). Only the arguments Ultralytics' detection
pipeline reads are set (``copy_paste`` needs segment masks and ``erasing`` is for
classification, so neither changes box-only training; ``none`` zeroes them anyway so the run's
recorded arguments say plainly that nothing was augmented). Explicit options and
``--train-arg KEY=VALUE`` win over the preset. Light at import: standard library only.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from workbench.registry import Registry

__all__ = ["AUGMENT_PRESETS", "augment_args"]

#: Preset name -> read-only mapping of Ultralytics argument -> value.
AUGMENT_PRESETS: Registry[MappingProxyType[str, Any]] = Registry("augmentation preset")

AUGMENT_PRESETS.register(
    "none",
    MappingProxyType({
        "mosaic": 0.0, "mixup": 0.0, "cutmix": 0.0, "copy_paste": 0.0,
        "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "degrees": 0.0, "translate": 0.0,
        "scale": 0.0, "shear": 0.0, "perspective": 0.0, "flipud": 0.0, "fliplr": 0.0,
        "bgr": 0.0, "erasing": 0.0,
    }),
    help="no augmentation at all: every image is seen as it is (letterboxed to --imgsz)")
AUGMENT_PRESETS.register(
    "default",
    MappingProxyType({}),
    help="Ultralytics' defaults (mosaic 1.0, HSV 0.015/0.7/0.4, translate 0.1, scale 0.5, "
         "fliplr 0.5, no rotation, no mixup)")
AUGMENT_PRESETS.register(
    "strong",
    MappingProxyType({
        "mosaic": 1.0, "mixup": 0.2, "cutmix": 0.1, "degrees": 10.0, "translate": 0.2,
        "scale": 0.7, "shear": 2.0, "hsv_h": 0.03, "hsv_s": 0.8, "hsv_v": 0.5,
        "fliplr": 0.5,
    }),
    help="for small data sets: mosaic, mixup 0.2, cutmix 0.1, rotation +/-10 deg, shear 2, "
         "stronger HSV (0.03/0.8/0.5), scale 0.7, translate 0.2, fliplr 0.5")


def augment_args(preset: str) -> dict[str, Any]:
    """The Ultralytics arguments of an augmentation preset (a fresh dict).

    Raises:
        UnknownNameError: ``preset`` is not registered (the message lists the valid names).
    """
    return dict(AUGMENT_PRESETS.get(preset))
