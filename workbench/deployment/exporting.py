"""``workbench export``: a trained run as a deployable model folder, with measured fidelity.

Every export writes ``OUT/<run>-<target>/`` with the model, ``classes.txt``, ``deploy.yaml``
and ``report.json``, and is recorded as an ``export`` run. The report compares the export
with the FP32 ONNX on the validation view: raw-output fidelity (cosine, max abs) and mAP50
decoded with the same numpy post-processing; an export beyond ``--max-drop`` / ``--min-cosine``
is refused (:mod:`workbench.deployment.gate`).

Targets: ``onnx`` (static shape, opset 17, simplified, class names and input size in the
metadata), ``onnx-int8`` (ONNX Runtime static QDQ on the convolutions, calibrated on a diverse
pick from a curated view, made accuracy-aware by :mod:`workbench.deployment.mixed`),
``tensorrt`` (a Jetson bundle: the FP32 ONNX, a symmetric INT8 QDQ ONNX for TensorRT's
explicit quantization, the calibration batch, ``build.sh`` for FP16 and INT8 engines and
``run_trt.py``; engines are built on the device, here the INT8 model is validated with
onnxruntime), and the device targets ``k210``, ``k230`` and ``rknn``
(:mod:`workbench.deployment.devices`: the vendor compiler in its side environment, measured in
the vendor simulator, with a K210 memory budget check and a MaixPy script). Each target's
descriptor in :data:`~workbench.deployment.targets.TARGETS` says which of these steps it takes.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

from workbench.deployment.artifacts import deploy_settings, write_artifacts
from workbench.deployment.calibration import calibration_images, calibration_record
from workbench.deployment.config import ExportConfig
from workbench.deployment.devices import export_device
from workbench.deployment.fidelity import ValSet, accuracy, output_fidelity
from workbench.deployment.gate import AccuracyDropError
from workbench.deployment.gate import check as check_gate
from workbench.deployment.targets import TARGETS, TargetSpec
from workbench.deployment.thresholds import ThresholdChoice, check_classes
from workbench.deployment.thresholds import resolve as resolve_thresholds
from workbench.errors import ConfigError
from workbench.prediction.api import (
    OnnxPredictor,
    export_onnx,
    load_detection_model,
    load_letterboxed,
    resolve_weights,
)
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.view_data import attributions
from workbench.store.workspace import Workspace

__all__ = ["ExportConfig", "export_model"]


def export_model(ws: Workspace, cfg: ExportConfig) -> dict[str, Any]:
    """Export, measure, write the folder, record the run; returns the report."""
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    weights = resolve_weights(ws, cfg.run)
    thresholds = resolve_thresholds(ws, cfg.thresholds, weights)
    if thresholds.values:  # checked before anything is written
        check_classes(thresholds, load_detection_model(weights)[1])
    name = Path(cfg.run).stem if Path(cfg.run).suffix else cfg.run
    folder = (cfg.out if cfg.out.is_absolute() else ws.root / cfg.out) / f"{name}-{cfg.target}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    spec = TARGETS.get(cfg.target)
    if spec.backend == "simulator":
        report, deploy = _device_export(ws, cfg, spec, weights, folder, thresholds)
    else:
        report, deploy = _onnx_export(ws, cfg, spec, weights, folder, thresholds)
    report["thresholds"] = thresholds.to_dict(deploy["classes"])
    deploy["data_attribution"] = _training_attribution(ws, cfg.run)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    gate = check_gate(report["map50"], report["map50_fp32"], report["fidelity"]["cosine"],
                      cfg.max_drop, cfg.min_cosine)
    report["gate"] = gate
    report["usable"] = gate["passed"] or cfg.accept_drop
    report["accepted_drop"] = cfg.accept_drop and not gate["passed"]
    report["warnings"] = [*(report.get("calibration") or {}).get("warnings", []),
                          *_speed_warnings(report, spec)]
    write_artifacts(folder, deploy["classes"], deploy, report)
    if not report["usable"]:
        raise AccuracyDropError(cfg.target, gate, folder)
    export_id = runs.new_run_id("export")
    report["export_id"] = export_id
    runs.record_run(ws, RunKind.EXPORT, export_id, {
        "run": cfg.run, "target": cfg.target, "imgsz": cfg.imgsz,
        "calibration": cfg.calibration, "calibration_count": cfg.calibration_count,
        "val": cfg.val, "val_limit": cfg.val_limit, "platform": cfg.platform,
        "thresholds": cfg.thresholds, "out": str(folder)}, report, started)
    return report


def _training_attribution(ws: Workspace, run: str) -> list[dict[str, Any]]:
    """Licenses and attributions of the images a training run learned from (its view's
    samples that carry one: FathomNet, Hugging Face ...); empty for a weights file."""
    doc = runs.get_run(ws, run)
    view = ((doc or {}).get("params") or {}).get("view")
    return attributions(ws, view) if isinstance(view, str) and view else []


def _speed_warnings(report: dict[str, Any], spec: TargetSpec) -> list[str]:
    """Say so when a quantized model is not faster than FP32 on this host, on one thread end
    to end or on any thread count model only, with what the CPU's flags explain."""
    ms, ms_fp32 = report.get("latency_ms"), report.get("latency_ms_fp32")
    if report.get("calibration") is None or ms is None or ms_fp32 is None:
        return []
    if spec.symmetric:
        return ["the host latency is of the symmetric (signed) INT8 model under ONNX Runtime, "
                "whose x86 kernels are written for unsigned activations: it says nothing "
                "about TensorRT on the Jetson (build the engines with build.sh and time them "
                "there)"]
    slower = [f"{n} thread{'s' if n != '1' else ''}: {t['int8']:.1f} vs {t['fp32']:.1f} ms"
              for n, t in report.get("latency_ms_by_threads", {}).items()
              if t["int8"] >= t["fp32"]]
    if ms >= ms_fp32:
        slower.insert(0, f"end to end, one thread: {ms:.1f} vs {ms_fp32:.1f} ms per image")
    if not slower:
        return []
    from workbench.deployment.speed import int8_kernel_note

    note = int8_kernel_note()
    return ["INT8 is not faster than FP32 on this host (" + "; ".join(slower) + "): it saves "
            "size, not time, here" + (f"; {note}" if note else "") + "; the device's int8 "
            "units may differ (measure there with `workbench benchmark`)"]


def _device_export(ws: Workspace, cfg: ExportConfig, spec: TargetSpec, weights: str,
                   folder: Path, thresholds: ThresholdChoice
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``simulator`` target: compiled and simulated by the vendor's tools (INT8 made
    accuracy-aware where the target has hybrid quantization)."""
    from workbench.deployment.device_mixed import Int8Goal

    goal = Int8Goal(max_drop=cfg.max_drop, min_cosine=cfg.min_cosine,
                    mixed=cfg.mixed_precision, sensitivity=cfg.sensitivity)
    result = export_device(ws, cfg.target, weights, folder, imgsz=cfg.imgsz,
                           calibration=cfg.calibration,
                           calibration_count=cfg.calibration_count, val=cfg.val,
                           val_limit=cfg.val_limit, platform=cfg.platform,
                           budget=cfg.budget, goal=goal)
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
    if spec.memory_budget:
        report["budget_mb"] = {"model": cfg.max_model_mb, "memory": cfg.max_memory_mb}
        report["slices_rewritten"] = result.slices_rewritten
    if spec.platform:
        report["platform"] = cfg.platform
    if result.int8 is not None:
        report["int8"] = result.int8
    if result.sensitivity is not None:
        report["sensitivity"] = result.sensitivity
    deploy = deploy_settings(cfg.target, info.imgsz, info.names, cfg.run,
                             None if result.calibration is None else cfg.calibration,
                             result.model.name, head=info.to_dict(), thresholds=thresholds)
    if spec.device_script:
        from workbench.deployment.maixpy import write_maixpy_script

        report["device_script"] = str(write_maixpy_script(folder, info, deploy))
    return report, deploy


def _onnx_export(ws: Workspace, cfg: ExportConfig, spec: TargetSpec, weights: str,
                 folder: Path, thresholds: ThresholdChoice
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ``onnxruntime`` target: exported here and measured with onnxruntime."""
    fp32_path = folder / ("model.onnx" if spec.keep_fp32 else "reference.fp32.onnx")
    export_onnx(weights, fp32_path, cfg.imgsz)
    fp32 = OnnxPredictor(str(fp32_path), threads=1)
    calibration: dict[str, Any] | None = None
    model_path = fp32_path
    extra: dict[str, Any] = {}
    val = ValSet.load(ws, cfg.val, limit=cfg.val_limit)
    if not val.paths:
        raise ConfigError(f"the validation view {cfg.val!r} has no labeled images")
    n_classes = len(fp32.names)
    ref_acc = accuracy(fp32, val, n_classes)
    if spec.quantized:
        from workbench.deployment.mixed import quantize_within_budget
        from workbench.deployment.onnx_int8 import finalize
        from workbench.deployment.speed import latency_by_threads

        diverse = cfg.calibration != "none"
        view = cfg.calibration if diverse else "split:train"
        images = calibration_images(ws, view, cfg.calibration_count, fp32_path, diverse=diverse)
        model_path, extra["int8"] = quantize_within_budget(
            fp32_path, folder / spec.model_file, images, fp32.imgsz,
            lambda path: accuracy(OnnxPredictor(str(path), threads=1), val, n_classes)["map50"],
            ref_acc["map50"], cfg.max_drop, symmetric=spec.symmetric,
            mixed=cfg.mixed_precision)
        extra["int8"]["final"] = finalize(  # the activation functions in int8 too (x86 speed)
            fp32_path, model_path, images, fp32.imgsz, extra["int8"], symmetric=spec.symmetric,
            evaluate=lambda path: accuracy(OnnxPredictor(str(path), threads=1), val,
                                           n_classes)["map50"])
        x = load_letterboxed(val.paths[0], fp32.imgsz)[0][None]
        extra["latency_ms_by_threads"] = {str(n): {k: round(v, 2) for k, v in t.items()}
                                          for n, t in latency_by_threads(
            {"fp32": str(fp32_path), "int8": str(model_path)}, x,
            tuple(sorted({1, os.cpu_count() or 1}))).items()}
        calibration = calibration_record(
            ws, view, images, "core-set over the FP32 embeddings" if diverse else "first")
        if cfg.sensitivity:
            from workbench.deployment.sensitivity import layer_table, write_markdown

            def measure(path: Path) -> tuple[float, float]:
                model = OnnxPredictor(str(path), threads=1)
                cosine = output_fidelity(fp32, model, val.paths[:cfg.fidelity_images])["cosine"]
                return accuracy(model, val, n_classes)["map50"], cosine

            table = layer_table(fp32_path, images, fp32.imgsz, measure, ref_acc["map50"],
                                symmetric=spec.symmetric, method=extra["int8"]["method"],
                                limit=cfg.sensitivity_limit)
            extra["sensitivity"] = {"layers": table, "markdown": str(write_markdown(
                table, folder / "sensitivity.md", ref_acc["map50"]))}
        if spec.engine_bundle:
            from workbench.deployment.tensorrt import write_bundle

            extra["engine"] = write_bundle(folder, images, fp32.imgsz)
    candidate = OnnxPredictor(str(model_path), threads=1) if model_path != fp32_path else fp32
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
                             model_path.name, thresholds=thresholds)
    return report, deploy
