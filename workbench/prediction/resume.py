"""A prediction run's recorded params, and the rules of ``predict --resume``.

A run is continued only with the settings it was made with (everything that changes what is
computed); the view and the engine may change: the engines give the same results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.store import predicted, predictions

if TYPE_CHECKING:
    from workbench.prediction.predict import PredictConfig
    from workbench.prediction.tta import PassPlan
    from workbench.store.workspace import Workspace


#: Params a resumed run may change: where and over which view it runs, not what it computes.
RESUME_FREE = frozenset({"view", "engine"})


def run_params(config: PredictConfig, weights: str, imgsz: int, plans: list[PassPlan],
               calibration_run: str | None) -> dict[str, Any]:
    """The run's recorded params: what it computes (and, free, where it ran)."""
    return {"model": weights, "view": config.view, "backend": config.backend,
            "imgsz": imgsz, "conf": config.conf, "iou": config.iou,
            "display_conf": config.display_conf, "embeddings": config.embeddings,
            "tta": config.tta, "tta_passes": config.tta_passes if config.tta else [],
            "tta_pass_names": ["plain"] + [p.label for p in plans],
            "tta_sizes": [p.imgsz for p in plans], "fuse": config.fuse,
            "fuse_method": config.fuse_method if config.fuse else None,
            "fuse_iou": config.fuse_iou if config.fuse else None,
            "calibration": calibration_run, "engine": config.engine}


def check_resumable(run: str, before: dict[str, Any], now: dict[str, Any]) -> None:
    """Refuse to continue run ``run`` with other settings than it was made with.

    Raises:
        WorkbenchError: names each differing setting, its recorded and its asked value.
    """
    differ = [f"{k}: run {before.get(k)!r}, now {v!r}" for k, v in now.items()
              if k not in RESUME_FREE and k in before and before[k] != v]
    if differ:
        raise WorkbenchError(f"run {run!r} was made with other settings ({'; '.join(differ)}); "
                             "--resume it with the run's own settings (`workbench runs` shows "
                             "them) or predict into a new --run")


def remaining(ws: Workspace, view: str, run: str, ids: list[Any]) -> list[int]:
    """Positions in ``ids`` (the samples of ``view``) of those without ``pred_<run>``."""
    done = predicted.predicted_ids(ws, view, predictions.field_name("pred", run))
    return [k for k, i in enumerate(ids) if i not in done]


def partial_outputs(written: dict[str, Any], before: dict[str, Any], boxes: int,
                    samples: int) -> dict[str, Any]:
    """The outputs of a run still going (what ``--resume`` reads back after a kill): the
    fields it writes, and its boxes and images so far."""
    return {"boxes": boxes, "samples": samples,
            "scores_field": written.get("scores_field", before.get("scores_field")),
            "embeddings_field": written.get("embeddings_field", before.get("embeddings_field")),
            "uncertainty_fields": list(written["uncertainty_fields"].values())}
