"""The calibration capability's App operators: ``wb_calibrate``, ``wb_thresholds`` and
``wb_calibration`` (a stored calibration's report and reliability diagram)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.calibration.api import METHODS, CalibrateConfig, calibrate
from workbench.calibration.report import markdown
from workbench.errors import WorkbenchError
from workbench.ui.api import Choices, OperatorSpec, Report

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


@dataclass
class ShowCalibration:
    """Options of ``wb_calibration``.

    Attributes:
        calibration: the calibration run to show.
    """

    calibration: str


def _calibrate(ws: Workspace, cfg: CalibrateConfig, report: Report) -> Any:
    return calibrate(ws, cfg)


def _show(ws: Workspace, cfg: ShowCalibration, report: Report) -> dict[str, Any]:
    from workbench.store import runs
    from workbench.store.runs import RunKind

    doc = runs.get_run(ws, cfg.calibration, kind=RunKind.CALIBRATE)
    if doc is None:
        raise WorkbenchError(f"no calibration named {cfg.calibration!r}; run wb_calibrate first")
    return {k: v for k, v in (doc.get("outputs") or {}).items() if k != "calibrator"}


def _summary(result: dict[str, Any]) -> str:
    return markdown(result)


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_calibrate``, ``wb_thresholds`` and ``wb_calibration``."""
    runs_choice = Choices(source="prediction_runs")
    ops.register("wb_calibrate", OperatorSpec(
        "wb_calibrate", "Workbench: calibrate confidences",
        "Fit a confidence map (temperature, Platt or isotonic) of a prediction run on half of "
        "a labeled view and measure D-ECE and Brier before/after on the other half, with a "
        "reliability diagram (`workbench calibrate`). Predict, select --calibrated and "
        "pre-annotations apply the stored map.",
        CalibrateConfig, _calibrate,
        choices={"run": runs_choice, "view": _VIEWS, "method": Choices(static=METHODS)},
        hidden=("replace",), fixed={"replace": True}, summary=_summary))
    ops.register("wb_thresholds", OperatorSpec(
        "wb_thresholds", "Workbench: per-class operating thresholds",
        "Pick one confidence threshold per class on a labeled view (best F1, the most recall "
        "at a precision, or the most precision at a recall: f1, precision:0.9, recall:0.8), "
        "stored with a calibration; `workbench export` writes them into deploy.yaml "
        "(`workbench calibrate --thresholds RULE`).",
        CalibrateConfig, _calibrate,
        choices={"run": runs_choice, "view": _VIEWS,
                 "thresholds": Choices(static=("f1", "precision:0.9", "recall:0.8"), other=True)},
        hidden=("method", "per_class", "min_per_class", "bins", "position", "position_bins",
                "min_conf", "replace"),
        fixed={"replace": True}, summary=_summary))
    ops.register("wb_calibration", OperatorSpec(
        "wb_calibration", "Workbench: show a calibration",
        "A stored calibration's figures, operating thresholds and reliability diagram.",
        ShowCalibration, _show, choices={"calibration": Choices(source="calibrations")},
        summary=_summary))
