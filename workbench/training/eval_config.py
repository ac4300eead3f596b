"""Options and result of ``workbench evaluate``.

Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.results import Result


@dataclass
class EvalConfig:
    """Options of ``workbench evaluate``.

    Attributes:
        run: a finished training run (or, with ``model``, the name results are stored under).
        model: evaluate this local ``.pt``, or an ``.onnx`` exported by ``workbench export``
            (class names and input size from its metadata), instead of a run's weights.
        predictions: evaluate the boxes stored by this prediction run (``predict``,
            ``predictions import``, ``ensemble``) instead of predicting; an ensemble (or a
            TTA-fused run) is compared with each of its members. Not with ``run`` / ``model``.
        split: the split evaluated (its labeled images) when no ``view`` is given.
        view: evaluate the labeled images of this view spec instead of ``split``
            (``source:cam2``, ``round:round-3``, ``split:val,source:cam2``; see
            ``workbench.store.views``).
        conf: minimum confidence of evaluated boxes (Ultralytics' val uses 0.001 and 300 boxes
            per image; FiftyOne's per-object matching then takes minutes for a weak model's
            hundreds of near-zero boxes per image, which barely move mAP). A stored run
            (``predictions``) is evaluated as it was stored.
        iou: IoU of the per-box TP/FP/FN fields, of precision/recall and the per-class recall.
        device: ``cpu`` or a CUDA index.
        max_det: boxes per image.
        deploy_conf: confidence threshold of precision/recall, the per-class recall and the
            confusion matrix (a typical deploy one).
        target_precision: report each class's highest recall whose precision is at least this,
            and the confidence threshold that reaches it.
        critical: classes that matter most (``lionfish,urchin``); those whose recall at
            ``deploy_conf`` is below ``min_recall`` are flagged.
        min_recall: the least recall at ``deploy_conf`` a critical class should reach.
    """

    run: str | None = None
    model: str | None = None
    predictions: str | None = None
    split: str = "val"
    view: str | None = None
    conf: float = 0.01
    iou: float = 0.5
    device: str = "cpu"
    max_det: int = 100
    deploy_conf: float = 0.25
    target_precision: float = 0.9
    critical: list[str] | None = None
    min_recall: float = 0.5

    def __post_init__(self) -> None:
        if self.predictions is not None and not self.predictions.strip():
            self.predictions = None
        if self.predictions and (self.run or self.model):
            raise ConfigError(f"--predictions {self.predictions} evaluates a stored prediction "
                              "run; it cannot be combined with --run or --model (give one "
                              "of them)")
        if not self.run and not self.model and not self.predictions:
            raise WorkbenchError("give --run NAME (a training run), --model PATH.pt|.onnx or "
                                 "--predictions RUN (a stored prediction run)")
        if not 0.0 < self.iou < 1.0:
            raise WorkbenchError(f"--iou must be between 0 and 1, got {self.iou}")
        if not 0.0 < self.target_precision <= 1.0:
            raise ConfigError(f"--target-precision must be in (0, 1], got "
                              f"{self.target_precision}")
        if not 0.0 <= self.min_recall <= 1.0:
            raise ConfigError(f"--min-recall must be in [0, 1], got {self.min_recall}")
        if not 0.0 <= self.deploy_conf <= 1.0:
            raise ConfigError(f"the deploy confidence must be in [0, 1], got {self.deploy_conf}")
        if self.view is not None and not self.view.strip():
            self.view = None
        if isinstance(self.critical, str):
            self.critical = self.critical.split(",")
        if self.critical is not None:
            names = [str(c).strip() for c in self.critical if str(c).strip()]
            self.critical = list(dict.fromkeys(names)) or None


@dataclass
class EvalResult(Result):
    """Report of ``workbench evaluate``.

    Attributes:
        run: the run (or model name) evaluated; ``split``: the split, or the view spec when a
            view was evaluated; ``view``: the view spec evaluated (``split:val`` by default).
        eval_key, pred_field: where the per-box verdicts and the predictions are stored.
        map50, map50_95: FiftyOne's COCO mAP at IoU 0.5 and over 0.5:0.95.
        ap75: COCO AP at IoU 0.75; ap_small, ap_medium, ap_large: AP over 0.5:0.95 of boxes
            under 32², between 32² and 96², and over 96² pixels of the original image (None
            where the view has no ground-truth box of that size); ar: AR@100 (largest recall,
            averaged over IoU 0.5:0.95 and the classes).
        per_class: class -> ``ap50``, ``ap50_95``, ``ap75``, ``ar``, ``support``, ``recall`` (at
            the deploy threshold), ``recall_at_precision`` and ``conf_at_precision`` (None
            where ``target_precision`` is never reached).
        precision, recall: over all classes at ``conf_threshold`` (the deploy threshold).
        target_precision: the precision ``recall_at_precision`` holds.
        critical, min_recall: the critical classes and the recall they should reach;
            critical_below: those below it at the deploy threshold.
        images: labeled images evaluated; confusion: the confusion matrix at the deploy
            threshold; report_dir, plots: the report's folder and images; seconds: wall time.
        members: for an ensemble (or a TTA-fused run) evaluated with ``predictions``, one row
            per member (or TTA pass) and last the fusion's: ``run`` (member run, ``pass K
            (NAME)`` or the fused run), ``role`` (``member`` / ``fusion``), ``map50``,
            ``map50_95`` (:mod:`workbench.core.cocoeval`) and ``boxes``, all on the same
            ``member_images`` labeled images (those holding every field); empty otherwise.
        member_images: the images the member rows were measured on.
    """

    run: str
    split: str
    eval_key: str
    pred_field: str
    map50: float
    map50_95: float
    per_class: dict[str, dict[str, Any]]
    precision: float
    recall: float
    conf_threshold: float
    images: int
    view: str = ""
    ap75: float = 0.0
    ap_small: float | None = None
    ap_medium: float | None = None
    ap_large: float | None = None
    ar: float = 0.0
    target_precision: float = EvalConfig.target_precision
    critical: list[str] = field(default_factory=list)
    min_recall: float = EvalConfig.min_recall
    critical_below: list[str] = field(default_factory=list)
    confusion: dict[str, Any] = field(default_factory=dict)
    report_dir: str = ""
    plots: list[str] = field(default_factory=list)
    seconds: float = 0.0
    members: list[dict[str, Any]] = field(default_factory=list)
    member_images: int = 0
