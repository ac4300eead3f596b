"""Member presets of ``workbench ensemble train``: how each member is trained and thresholded.

A preset is an augmentation preset of ``workbench train --augment`` (``none``, ``default``,
``strong``: ``workbench/training/augment.py``), optional further Ultralytics training
arguments and the member's confidence operating point: a rule (``recall:R``, ``f1``,
``precision:P``) met on the validation images, or a fixed ``conf`` (``--operating-points
fixed``, and the fallback where validation has no labels). Members trained with different
augmentation and cut at different confidences make different mistakes, which is what fusion
needs. Adding a preset is one :meth:`~workbench.registry.Registry.register` call below
(docs/ensemble.md lists the values).
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
        conf: the fixed confidence operating point (``predict --conf``).
        rule: the operating point chosen on validation: ``recall:R`` (the highest threshold
            that keeps recall R), ``f1`` or ``precision:P``
            (:func:`~workbench.core.calibration.parse_threshold_rule`).
        overrides: further Ultralytics training arguments (win over ``augment``).
    """

    augment: str
    conf: float
    rule: str
    overrides: MappingProxyType[str, Any] = field(
        default_factory=lambda: MappingProxyType({}))


#: Preset name -> :class:`MemberPreset`.
PRESETS: Registry[MemberPreset] = Registry("ensemble preset")

PRESETS.register(
    "recall", MemberPreset("strong", 0.05, "recall:0.8"),
    help="strong augmentation, cut where validation recall is 0.8 (fixed: 0.05): finds the "
         "most objects")
PRESETS.register(
    "balanced", MemberPreset("default", 0.25, "f1"),
    help="Ultralytics' default augmentation, cut at the best validation F1 (fixed: 0.25)")
PRESETS.register(
    "precision", MemberPreset("none", 0.5, "precision:0.8", MappingProxyType({"fliplr": 0.5})),
    help="light augmentation (horizontal flips only), cut where validation precision is 0.8 "
         "(fixed: 0.5): few, sure boxes")


def preset_help() -> str:
    """``recall: ...; balanced: ...`` for the CLI's ``--preset`` help."""
    return "; ".join(f"{e.name}: {e.meta['help']}" for e in PRESETS)
