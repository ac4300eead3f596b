"""Options and results of ``workbench export`` and ``workbench benchmark``.

Every default and validation rule of the export capability lives here; the CLI and the App read
them (``default(ExportConfig, "target")``). Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.deployment.targets import RKNN_PLATFORMS, TARGETS
from workbench.errors import ConfigError, UnknownNameError
from workbench.results import Result


@dataclass(frozen=True)
class Budget:
    """The K210's memory budget, in MiB.

    Attributes:
        max_model_mb: largest kmodel (it is loaded into SRAM next to the firmware's heap).
        max_memory_mb: input + output + activations + model, within the 6 MB SRAM.
    """

    max_model_mb: float = 5.5
    max_memory_mb: float = 6.0


@dataclass
class ExportConfig:
    """Options of ``workbench export``.

    Attributes:
        run: the training run (or a ``.pt`` path) to export.
        target: one of :data:`~workbench.deployment.targets.TARGETS`.
        imgsz: input size (default: the size the model was trained at).
        calibration: view of the calibration images (``none``: plain first images for the
            ONNX targets, FP16 for ``rknn``).
        calibration_count: how many calibration images.
        val: the view fidelity and mAP are measured on.
        val_limit: only the view's first N images (simulators take 0.02-3 s per image).
        out: the folder that receives ``<run>-<target>/``.
        fidelity_images: validation images compared output by output (ONNX targets).
        platform: the Rockchip SoC of ``rknn``
            (:data:`~workbench.deployment.targets.RKNN_PLATFORMS`).
        max_model_mb: the K210 kmodel budget; ``max_memory_mb``: its SRAM budget
            (defaults: :class:`Budget`).
        max_drop: the most mAP50 points the export may lose against FP32 on ``val``.
        min_cosine: the least raw-output cosine similarity with FP32.
        accept_drop: keep (and record) an export beyond those limits.
        mixed_precision: when INT8 loses more than ``max_drop``, keep the most sensitive
            convolutions in float (ONNX targets; :mod:`workbench.deployment.mixed`) or layers
            in float16 (rknn's hybrid quantization) or tensors in int16 (k230, nncase's
            quantization scheme; :mod:`workbench.deployment.device_mixed`).
        sensitivity: also measure every convolution quantized alone and left in float alone
            (:mod:`workbench.deployment.sensitivity`; slow); ``sensitivity_limit``: only the
            first N convolutions. For rknn and k230: the vendor's per-layer error table
            (:mod:`workbench.deployment.layer_errors`, :mod:`workbench.deployment.quant_errors`).
        thresholds: the per-class operating thresholds written into ``deploy.yaml`` (not the
            INT8 ``calibration``): ``auto`` (the newest ``calibrate`` run of the exported
            weights that picked thresholds, else ``none``), ``none`` (every class at the
            global 0.25), a ``calibrate`` run's name, or a ``.yaml`` / ``.json`` file mapping
            class names to thresholds in [0, 1] (classes left out get 0.25)
            (:mod:`workbench.deployment.thresholds`).
    """

    run: str
    target: str = "onnx"
    imgsz: int | None = None
    calibration: str = "split:train"
    calibration_count: int = 100
    val: str = "split:val"
    out: Path = Path("exports")
    fidelity_images: int = 32
    val_limit: int | None = None
    platform: str = RKNN_PLATFORMS[0]
    max_model_mb: float = Budget.max_model_mb
    max_memory_mb: float = Budget.max_memory_mb
    max_drop: float = 2.0
    min_cosine: float = 0.99
    accept_drop: bool = False
    mixed_precision: bool = True
    sensitivity: bool = False
    sensitivity_limit: int | None = None
    thresholds: str = "auto"

    def __post_init__(self) -> None:
        TARGETS.entry(self.target)  # UnknownNameError listing the valid targets
        if self.platform not in RKNN_PLATFORMS:
            raise UnknownNameError("platform", self.platform, list(RKNN_PLATFORMS))
        if self.val_limit is not None and self.val_limit <= 0:
            raise ConfigError("--val-limit must be positive")
        if self.max_model_mb <= 0 or self.max_memory_mb <= 0:
            raise ConfigError("--max-model-mb and --max-memory-mb must be positive")
        if self.imgsz is not None and (self.imgsz <= 0 or self.imgsz % 32):
            raise ConfigError(f"--imgsz must be a positive multiple of 32, got {self.imgsz}")
        if self.calibration_count <= 0:
            raise ConfigError("--calibration-count must be positive")
        spec = TARGETS.get(self.target)
        if self.sensitivity and not (spec.quantized or spec.hybrid):
            able = ", ".join(e.name for e in TARGETS if e.value.quantized or e.value.hybrid)
            raise ConfigError(f"--sensitivity measures the INT8 targets ({able}), not "
                              f"{self.target}")
        if self.sensitivity_limit is not None and self.sensitivity_limit <= 0:
            raise ConfigError("--sensitivity-limit must be positive")
        if not 0 <= self.max_drop <= 100:
            raise ConfigError(f"--max-drop is in mAP50 points, 0 to 100; got {self.max_drop}")
        if not -1 <= self.min_cosine <= 1:
            raise ConfigError(f"--min-cosine must be within [-1, 1], got {self.min_cosine}")
        self.thresholds = str(self.thresholds).strip()
        if not self.thresholds:
            raise ConfigError("--thresholds is empty; give auto, none, a calibrate run or a "
                              ".yaml/.json file of {class: threshold}")

    @property
    def budget(self) -> Budget:
        """The K210 budget of these options."""
        return Budget(self.max_model_mb, self.max_memory_mb)


@dataclass
class ExportResult:
    """What an export measured: the report written as ``report.json``.

    Attributes:
        target: the export target; ``path``: the deployable model file.
        export_id: the recorded ``export`` run.
        map50: mAP50 of the export; ``map50_fp32``: of the FP32 ONNX on the same images.
        fits: the K210 budget verdict (None for targets without a budget).
        report: the whole report, key for key as ``report.json`` and ``--json`` print it.
    """

    target: str
    path: str
    export_id: str
    map50: float
    map50_fp32: float
    fits: bool | None
    report: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> ExportResult:
        """Wrap a finished export's report."""
        return cls(target=report["target"], path=report["path"],
                   export_id=report.get("export_id", ""), map50=report["map50"],
                   map50_fp32=report["map50_fp32"], fits=report.get("fits"),
                   report=dict(report))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the report)."""
        return dict(self.report)


@dataclass
class BenchmarkConfig:
    """Options of ``workbench benchmark``.

    Attributes:
        paths: export folders or model files.
        view: the view whose images and ground truth the models are measured on.
        limit: only the view's first N images.
        out: where the JSON, Markdown and PNG go (default ``WS/runs/benchmark/<id>``).
    """

    paths: list[Path] = field(default_factory=list)
    view: str = "split:val"
    limit: int | None = None
    out: Path | None = None

    def __post_init__(self) -> None:
        if not self.paths:
            raise ConfigError("pass at least one export folder or model file")


@dataclass
class BenchmarkResult(Result):
    """The comparison ``workbench benchmark`` writes (``benchmark.json``).

    Attributes:
        id: the recorded ``benchmark`` run; ``view``: the view; ``images``: images measured.
        efficiency: how the efficiency column is computed.
        models: one row per model (figures, or ``skipped`` with the reason).
        files: ``json``, ``markdown`` and (with measured rows) ``plot`` paths.
    """

    id: str
    view: str
    images: int
    efficiency: str = "mAP50 x FPS"
    models: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
