"""Every App operator of the workbench: each capability's ``ui.register(ops)``, in one registry.

:data:`CAPABILITIES` lists the capabilities with App operators, in the order of the work (the
operator browser keeps it); a new capability adds its ``ui`` module here and nowhere else.
"""

from __future__ import annotations

import functools
import importlib

from workbench.registry import Registry
from workbench.ui.operators import OperatorSpec

#: The capabilities whose ``ui`` modules register operators, in the order of the work.
CAPABILITIES = ("curation", "ingestion", "ssl", "training", "mining", "prediction", "ensembling",
                "calibration", "selection", "annotation", "loop", "deployment")


@functools.cache
def operators() -> Registry[OperatorSpec]:
    """The registry of every operator spec (built once per process)."""
    ops: Registry[OperatorSpec] = Registry("App operator")
    for name in CAPABILITIES:
        importlib.import_module(f"workbench.{name}.ui").register(ops)
    return ops
