"""Member presets of ``workbench ensemble train``: how each member is trained and thresholded.

A preset is an augmentation preset of ``workbench train --augment`` (``none``, ``default``,
``strong``: ``workbench/training/augment.py``), optional further Ultralytics training
arguments and the member's confidence operating point: the ``conf`` it predicts with before
fusion. Members trained with different augmentation and cut at different confidences make
different mistakes, which is what fusion needs. Adding a preset is one
:meth:`~workbench.registry.Registry.register` call below (docs/ensemble.md lists the values).
Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from workbench.registry import Registry

__all__ = ["PRESETS", "MemberPreset", "preset_help"]


@dataclass(frozen=True)
class MemberPreset:
    """How one ensemble member is trained and where it cuts its boxes.

    Attributes:
        augment: the ``workbench train --augment`` preset (``none``, ``default``, ``strong``).
        conf: the member's confidence operating point (``predict --conf``).
        overrides: further Ultralytics training arguments (win over ``augment``).
    """

    augment: str
    conf: float
    overrides: MappingProxyType[str, Any] = field(
        default_factory=lambda: MappingProxyType({}))


#: Preset name -> :class:`MemberPreset`.
PRESETS: Registry[MemberPreset] = Registry("ensemble preset")

PRESETS.register(
    "recall", MemberPreset("strong", 0.05),
    help="strong augmentation, keeps boxes down to confidence 0.05: finds the most objects")
PRESETS.register(
    "balanced", MemberPreset("default", 0.25),
    help="Ultralytics' default augmentation, confidence 0.25 (the usual operating point)")
PRESETS.register(
    "precision", MemberPreset("none", 0.5, MappingProxyType({"fliplr": 0.5})),
    help="light augmentation (horizontal flips only), confidence 0.5: few, sure boxes")


def preset_help() -> str:
    """``recall: ...; balanced: ...`` for the CLI's ``--preset`` help."""
    return "; ".join(f"{e.name}: {e.meta['help']}" for e in PRESETS)
