"""Calibrations stored with their runs, found again by the commands that apply them.

A ``calibrate`` run's document holds the fitted map (``outputs.calibrator``), the prediction
run it was fitted on (``params.run``) and that run's model (``params.model``). ``predict``
applies the newest calibration of the model it runs (``--calibration auto``), ``select
--calibrated`` and pre-annotations the newest calibration of the run they read.
"""

from __future__ import annotations

from typing import Any

from workbench.core.calibration import Calibrator
from workbench.errors import ConfigError
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

#: ``--calibration`` values that are not run names.
AUTO, NONE = "auto", "none"


def _newest(ws: Workspace, key: str, value: Any) -> dict[str, Any] | None:
    docs = [d for d in runs.list_runs(ws, RunKind.CALIBRATE)
            if value is not None and (d.get("params") or {}).get(key) == value
            and (d.get("outputs") or {}).get("calibrator")]
    return docs[-1] if docs else None


def _loaded(doc: dict[str, Any]) -> tuple[str, Calibrator]:
    return str(doc["_id"]), Calibrator.from_dict(doc["outputs"]["calibrator"])


def load(ws: Workspace, name: str) -> tuple[str, Calibrator]:
    """The calibration run ``name``.

    Raises:
        ConfigError: no calibration of that name (lists the ones there are).
    """
    doc = runs.get_run(ws, name, kind=RunKind.CALIBRATE)
    if doc is None or not (doc.get("outputs") or {}).get("calibrator"):
        names = [str(d["_id"]) for d in runs.list_runs(ws, RunKind.CALIBRATE)]
        raise ConfigError(f"no calibration named {name!r}; calibrations: "
                          f"{', '.join(names) or 'none yet (workbench calibrate --run RUN)'}")
    return _loaded(doc)


def for_run(ws: Workspace, run: str) -> tuple[str, Calibrator] | None:
    """The newest calibration fitted on prediction run ``run``."""
    doc = _newest(ws, "run", run)
    return None if doc is None else _loaded(doc)


def for_model(ws: Workspace, weights: str) -> tuple[str, Calibrator] | None:
    """The newest calibration fitted on predictions of the model file ``weights``."""
    doc = _newest(ws, "model", weights)
    return None if doc is None else _loaded(doc)


def resolve(ws: Workspace, spec: str, weights: str) -> tuple[str, Calibrator] | None:
    """What ``predict --calibration SPEC`` applies to a run of ``weights``.

    ``auto``: the newest calibration of the model (None without one); ``none``: None; else
    the calibration run of that name.
    """
    if spec == NONE:
        return None
    if spec == AUTO:
        return for_model(ws, weights)
    return load(ws, spec)


def predicted_under(ws: Workspace, run: str) -> str | None:
    """The calibration the prediction run ``run`` was written under, if any."""
    doc = runs.get_run(ws, run) or {}
    value = (doc.get("params") or {}).get("calibration")
    return str(value) if value else None
