"""The calibration capability's public surface: ``calibrate``, the stored calibrations and
how other capabilities apply them.

Light at import; the verb imports the store's FiftyOne parts when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.calibration.config import (
    METHODS,
    THRESHOLD_RULES,
    CalibrateConfig,
    CalibrateResult,
)
from workbench.calibration.stored import (
    AUTO,
    NONE,
    for_model,
    for_run,
    load,
    predicted_under,
    resolve,
)
from workbench.core.labels import class_ids
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["AUTO", "METHODS", "NONE", "THRESHOLD_RULES", "CalibrateConfig", "CalibrateResult",
           "calibrate", "class_ids", "for_model", "for_run", "load", "predicted_under",
           "resolve"]


@lock.writes
def calibrate(ws: Workspace, config: CalibrateConfig) -> CalibrateResult:
    """Fit a confidence map of prediction run ``config.run`` on half of ``config.view``'s
    labeled images, report D-ECE and Brier before/after on the other half (every method side
    by side, per class, a reliability diagram), optionally pick per-class operating
    thresholds, and store it all as a ``calibrate`` run.

    Raises:
        WorkbenchError: not a prediction run, no predictions on the view's labeled images,
            fewer than 2 images, an existing calibration without ``replace``.
    """
    from workbench.calibration.fit import run_calibrate

    return run_calibrate(ws, config)
