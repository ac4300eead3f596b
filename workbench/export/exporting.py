"""``workbench export``: a trained run as a deployable model folder, with measured fidelity.

Every export writes ``OUT/<run>-<target>/`` with the model, ``classes.txt``, ``deploy.yaml``
and ``report.json``, and is recorded as an ``export`` run. The report compares the export
with the FP32 ONNX on the validation view: raw-output fidelity (cosine, max abs) and mAP50
decoded with the same numpy post-processing.

Targets: ``onnx`` (static shape, opset 17, simplified, class names and input size in the
metadata), ``onnx-int8`` (ONNX Runtime static QDQ on the convolutions, calibrated on a diverse
pick from a curated view), ``tensorrt`` (a Jetson bundle: the FP32 ONNX, a symmetric INT8 QDQ
ONNX for TensorRT's explicit quantization, the calibration batch, ``build.sh`` for FP16 and
INT8 engines and ``run_trt.py``; engines are built on the device, here the INT8 model is
validated with onnxruntime), and the device targets ``k210``, ``k230`` and ``rknn``
(:mod:`workbench.export.devices`: the vendor compiler in its side environment, measured in the
vendor simulator, with a K210 memory budget check and a MaixPy script).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, UnknownNameError
from workbench.export.artifacts import deploy_settings, write_artifacts
from workbench.export.calibration import calibration_images
from workbench.export.devices import DEVICES, RKNN_PLATFORMS, Budget, export_device
from workbench.export.fidelity import ValSet, accuracy, output_fidelity
from workbench.prediction.backends.onnx import OnnxPredictor, export_onnx
from workbench.prediction.predict import resolve_weights
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

TARGETS = ("onnx", "onnx-int8", "tensorrt", *DEVICES)


@dataclass
class ExportConfig:
    """Options of ``workbench export``.

    Attributes:
        run: the training run (or a ``.pt`` path) to export.
        target: one of :data:`TARGETS`.
        imgsz: input size (default: the size the model was trained at).
        calibration: view of the calibration images (``none``: plain first images for the
            ONNX targets, FP16 for ``rknn``).
        calibration_count: how many calibration images.
        val: the view fidelity and mAP are measured on.
        val_limit: only the view's first N images (simulators take 0.02-3 s per image).
        out: the folder that receives ``<run>-<target>/``.
        fidelity_images: validation images compared output by output (ONNX targets).
        platform: the Rockchip SoC of ``rknn``.
        max_model_mb: the K210 kmodel budget; ``max_memory_mb``: its SRAM budget.
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
    platform: str = "rk3588"
    max_model_mb: float = 5.5
    max_memory_mb: float = 6.0

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise UnknownNameError("target", self.target, list(TARGETS))
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


def export_model(ws: Workspace, cfg: ExportConfig) -> dict[str, Any]:
    """Export, measure, write the folder, record the run; returns the report."""
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    weights = resolve_weights(ws, cfg.run)
    name = Path(cfg.run).stem if Path(cfg.run).suffix else cfg.run
    folder = (cfg.out if cfg.out.is_absolute() else ws.root / cfg.out) / f"{name}-{cfg.target}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if cfg.target in DEVICES:
        report, deploy = _device_export(ws, cfg, weights, folder)
    else:
        report, deploy = _onnx_export(ws, cfg, weights, folder)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_artifacts(folder, deploy["classes"], deploy, report)
    export_id = runs.new_run_id("export")
    report["export_id"] = export_id
    runs.record_run(ws, RunKind.EXPORT, export_id, {
        "run": cfg.run, "target": cfg.target, "imgsz": cfg.imgsz,
        "calibration": cfg.calibration, "calibration_count": cfg.calibration_count,
        "val": cfg.val, "val_limit": cfg.val_limit, "platform": cfg.platform,
        "out": str(folder)}, report, started)
    return report


def _device_export(ws: Workspace, cfg: ExportConfig, weights: str,
                   folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``k210`` / ``k230`` / ``rknn``: compiled and simulated by the vendor's tools."""
    result = export_device(ws, cfg.target, weights, folder, imgsz=cfg.imgsz,
                           calibration=cfg.calibration,
                           calibration_count=cfg.calibration_count, val=cfg.val,
                           val_limit=cfg.val_limit, platform=cfg.platform,
                           budget=Budget(cfg.max_model_mb, cfg.max_memory_mb))
    info = result.info
    quant = "int8" if result.calibration else "fp16"
    report: dict[str, Any] = {
        "target": cfg.target, "path": str(result.model),
        "size_bytes": result.model.stat().st_size, "map50": result.map50,
        "map50_fp32": result.map50_fp32,
        "fidelity": {**{k: result.fidelity[k] for k in ("cosine", "max_abs", "images")},
                     "compared": "raw head maps, simulator vs FP32 onnxruntime"},
        "fits": result.fits, "imgsz": info.imgsz, "source_run": cfg.run, "weights": weights,
        "latency_ms": None, "latency_ms_fp32": result.latency_ms_fp32,
        "simulator_ms_per_image": result.simulator_ms, "quantization": quant,
        "val": {"view": cfg.val, "images": result.val_images},
        "calibration": result.calibration, "memory_bytes": result.memory,
    }
    if cfg.target == "k210":
        report["budget_mb"] = {"model": cfg.max_model_mb, "memory": cfg.max_memory_mb}
        report["slices_rewritten"] = result.slices_rewritten
    if cfg.target == "rknn":
        report["platform"] = cfg.platform
    deploy = deploy_settings(cfg.target, info.imgsz, info.names, cfg.run,
                             None if result.calibration is None else cfg.calibration,
                             result.model.name, head=info.to_dict())
    if cfg.target == "k210":
        from workbench.export.maixpy import write_maixpy_script

        report["device_script"] = str(write_maixpy_script(folder, info, deploy))
    return report, deploy


def _onnx_export(ws: Workspace, cfg: ExportConfig, weights: str,
                 folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``onnx`` / ``onnx-int8`` / ``tensorrt``: measured with onnxruntime."""
    keep_fp32 = cfg.target in ("onnx", "tensorrt")
    fp32_path = folder / ("model.onnx" if keep_fp32 else "reference.fp32.onnx")
    export_onnx(weights, fp32_path, cfg.imgsz)
    fp32 = OnnxPredictor(str(fp32_path), threads=1)
    calibration: dict[str, Any] | None = None
    model_path = fp32_path
    extra: dict[str, Any] = {}
    if cfg.target in ("onnx-int8", "tensorrt"):
        from workbench.export.onnx_int8 import quantize_int8

        diverse = cfg.calibration != "none"
        view = cfg.calibration if diverse else "split:train"
        images = calibration_images(ws, view, cfg.calibration_count, fp32_path, diverse=diverse)
        name_int8 = "model.int8.qdq.onnx" if cfg.target == "tensorrt" else "model.int8.onnx"
        model_path = quantize_int8(fp32_path, folder / name_int8, images, fp32.imgsz,
                                   symmetric=cfg.target == "tensorrt")
        calibration = {"view": view, "count": len(images),
                       "pick": "core-set over the FP32 embeddings" if diverse else "first"}
        if cfg.target == "tensorrt":
            from workbench.export.tensorrt import write_bundle

            extra["engine"] = write_bundle(folder, images, fp32.imgsz)
    candidate = OnnxPredictor(str(model_path), threads=1) if model_path != fp32_path else fp32
    val = ValSet.load(ws, cfg.val, limit=cfg.val_limit)
    if not val.paths:
        raise ConfigError(f"the validation view {cfg.val!r} has no labeled images")
    n_classes = len(fp32.names)
    ref_acc = accuracy(fp32, val, n_classes)
    acc = ref_acc if candidate is fp32 else accuracy(candidate, val, n_classes)
    compared = val.paths[:cfg.fidelity_images]
    fidelity = ({"cosine": 1.0, "max_abs": 0.0, "images": len(compared)} if candidate is fp32
                else output_fidelity(fp32, candidate, compared))  # the FP32 model is the reference
    report = {
        "target": cfg.target, "path": str(model_path), "size_bytes": model_path.stat().st_size,
        "map50": acc["map50"], "map50_fp32": ref_acc["map50"],
        "fidelity": {"cosine": fidelity["cosine"], "max_abs": fidelity["max_abs"],
                     "images": fidelity["images"]},
        "fits": None, "imgsz": fp32.imgsz, "source_run": cfg.run, "weights": weights,
        "latency_ms": round(acc["seconds_per_image"] * 1000, 2),
        "latency_ms_fp32": round(ref_acc["seconds_per_image"] * 1000, 2),
        "val": {"view": cfg.val, "images": len(val.paths)}, "calibration": calibration,
        **extra,
    }
    deploy = deploy_settings(cfg.target, fp32.imgsz, fp32.names, cfg.run,
                             None if calibration is None else calibration["view"],
                             model_path.name)
    return report, deploy
