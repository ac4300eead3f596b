"""Options and result of ``workbench evaluate``.

Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.results import Result


@dataclass
class EvalConfig:
    """Options of ``workbench evaluate``.

    Attributes:
        run: a finished training run (or, with ``model``, the name results are stored under).
        model: evaluate this local ``.pt`` instead of a run's weights.
        split: the split evaluated (its labeled images).
        conf: minimum confidence of evaluated boxes (Ultralytics' val uses 0.001 and 300 boxes
            per image; FiftyOne's per-object matching then takes minutes for a weak model's
            hundreds of near-zero boxes per image, which barely move mAP).
        iou: IoU of the per-box TP/FP/FN fields.
        device: ``cpu`` or a CUDA index.
        max_det: boxes per image.
        deploy_conf: confidence threshold of precision/recall and the confusion matrix (a
            typical deploy one).
    """

    run: str | None = None
    model: str | None = None
    split: str = "val"
    conf: float = 0.01
    iou: float = 0.5
    device: str = "cpu"
    max_det: int = 100
    deploy_conf: float = 0.25

    def __post_init__(self) -> None:
        if not self.run and not self.model:
            raise WorkbenchError("give --run NAME (a training run) or --model PATH.pt")
        if not 0.0 < self.iou < 1.0:
            raise WorkbenchError(f"--iou must be between 0 and 1, got {self.iou}")


@dataclass
class EvalResult(Result):
    """Report of ``workbench evaluate``."""

    run: str
    split: str
    eval_key: str
    pred_field: str
    map50: float
    map50_95: float
    per_class: dict[str, dict[str, float]]
    precision: float
    recall: float
    conf_threshold: float
    images: int
    confusion: dict[str, Any] = field(default_factory=dict)
    report_dir: str = ""
    plots: list[str] = field(default_factory=list)
    seconds: float = 0.0
