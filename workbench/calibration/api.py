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
           "calibrate", "class_ids", "for_model", "for_run", "load", "operating_point",
           "predicted_under", "resolve"]


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


def operating_point(ws: Workspace, run: str, view: str, rule: str,
                    iou: float = 0.5) -> tuple[float, bool]:
    """One confidence threshold for all of a run's boxes, chosen by ``rule`` on a view's
    labeled images (the boxes of every class pooled).

    Args:
        ws: the workspace.
        run: a prediction run with boxes on ``view``'s labeled images.
        view: the labeled images (usually ``split:val``).
        rule: ``f1``, ``precision:P`` or ``recall:R``
            (:func:`~workbench.core.calibration.parse_threshold_rule`).
        iou: the IoU at which a box matches a ground-truth box.

    Returns:
        The threshold and whether the rule could be met (else the F1 threshold, or 0.25 when
        no box is right).

    Raises:
        WorkbenchError: the run has no boxes on the view's labeled images.
    """
    import numpy as np

    from workbench.calibration.fit import matched_boxes
    from workbench.core.calibration import operating_thresholds

    boxes = matched_boxes(ws, run, view, iou)
    thresholds, met = operating_thresholds(
        boxes["conf"], boxes["positive"], np.zeros(len(boxes["conf"]), dtype=np.int64),
        [int(boxes["n_gt"].sum())], rule)
    return float(thresholds[0]), bool(met[0])
