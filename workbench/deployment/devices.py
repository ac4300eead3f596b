"""Device targets: K210 and K230 kmodels (nncase) and RKNN, built and simulated for real.

Each target compiles the raw-head ONNX (:mod:`workbench.deployment.rawhead`) with the vendor's
compiler in its pinned side environment (:mod:`workbench.deployment.toolchains`), driven as a
subprocess (:mod:`workbench.deployment.drivers`), then runs the validation images through the
vendor's simulator. The simulator's maps are decoded on the host with the same numpy
post-processing as every other export, so the report's mAP50, cosine and max abs error
compare like with like against the FP32 raw-head ONNX run by onnxruntime.

For the K210, channel slices of a convolution's output (YOLOv8's C2f) are first rewritten
into convolutions of their own (:mod:`workbench.deployment.onnx_unslice`): nncase 1.9 otherwise
emits a kmodel its runtime rejects. The K210 check reads the compiler's memory summary: the
kmodel must fit ``max_model_mb`` (5.5 MB) and everything the runtime holds (input, output,
activations, model) the 6 MB of general-purpose SRAM; otherwise the export fails with what to
change.

For a target with hybrid quantization (``TargetSpec.hybrid``), an INT8 build beyond the
accuracy gate is rebuilt with its worst layers in higher precision
(:mod:`workbench.deployment.device_mixed`), ranked by a per-layer error table that
``--sensitivity`` also writes as ``sensitivity.md``: RKNN keeps layers in float16, ranked by
the toolkit's table (:mod:`workbench.deployment.layer_errors`); the K230 keeps tensors in
int16, ranked by nncase's (:mod:`workbench.deployment.quant_errors`); the K210 runs
convolutions in float32 on its CPU instead of the KPU (an ONNX rewrite,
:mod:`workbench.deployment.onnx_offload`), ranked on the host
(:mod:`workbench.deployment.kpu_sqnr`), and every such build is checked against the memory
budget too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.deployment.calibration import calibration_images, calibration_record
from workbench.deployment.config import Budget
from workbench.deployment.device_mixed import Build, Int8Goal
from workbench.deployment.fidelity import ValSet, accuracy, output_fidelity
from workbench.deployment.rawhead import (
    HeadInfo,
    MapsPredictor,
    export_raw_onnx,
    onnx_runner,
    replay_runner,
)
from workbench.deployment.targets import K210_SIMULATOR_HINT, TARGETS
from workbench.deployment.toolchains import side_python
from workbench.errors import BudgetError, ConfigError, ToolchainError
from workbench.prediction.api import export_onnx, load_uint8
from workbench.store.workspace import Workspace

__all__ = ["K210_SIMULATOR_HINT", "Budget", "DeviceResult", "check_budget", "export_device",
           "parse_memory"]

DRIVERS = Path(__file__).resolve().parent / "drivers"
MB = 1024 * 1024


@dataclass
class DeviceResult:
    """What a device export measured."""

    model: Path
    info: HeadInfo
    reference: Path
    map50: float
    map50_fp32: float
    fidelity: dict[str, Any]
    latency_ms_fp32: float
    simulator_ms: float
    calibration: dict[str, Any] | None
    memory: dict[str, int] | None
    fits: bool | None
    val_images: int
    slices_rewritten: int = 0
    int8: dict[str, Any] | None = None
    sensitivity: dict[str, Any] | None = None


_MEMORY_LINE = re.compile(r"^\s*(\.?[A-Za-z]+)\s+[\d.]+\s*[KMG]?B\s+\((\d+)\s*B\)", re.M)


def parse_memory(log: str) -> dict[str, int]:
    """nncase's ``MEMORY USAGES`` summary as bytes per section.

    Returns:
        e.g. ``{"input": 150528, "output": 278320, "data": 515680, "model": 1384640,
        "total": 2329168}``; empty when the log has no summary.
    """
    start = log.rfind("MEMORY USAGES")
    if start < 0:
        return {}
    return {m.group(1).lstrip(".").lower(): int(m.group(2))
            for m in _MEMORY_LINE.finditer(log[start:])}


def check_budget(memory: dict[str, int], budget: Budget, imgsz: int,
                 n_classes: int) -> str | None:
    """Why a K210 kmodel does not fit (with what to change), or None when it fits.

    Raises:
        ToolchainError: the compiler printed no memory summary.
    """
    if "model" not in memory or "total" not in memory:
        raise ToolchainError("nncase printed no memory summary; see compile.log")
    over = []
    if memory["model"] > budget.max_model_mb * MB:
        over.append(f"the kmodel is {memory['model'] / MB:.2f} MB (budget "
                    f"{budget.max_model_mb} MB)")
    if memory["total"] > budget.max_memory_mb * MB:
        parts = ", ".join(f"{k} {v / MB:.2f}" for k, v in memory.items() if k != "total")
        over.append(f"it needs {memory['total'] / MB:.2f} MB of SRAM ({parts}; budget "
                    f"{budget.max_memory_mb} MB)")
    if not over:
        return None
    hints = ["train the microcontroller config: --model configs/models/micro-relu.yaml "
             "(plain 3x3 convolutions, about 1.4 MB as a kmodel)"]
    if imgsz > 224:
        hints.append(f"a smaller input: --imgsz 224 (now {imgsz}; the K210 camera path is "
                     "320x240 at most, activations grow with the square of the size)")
    if n_classes > 5:
        hints.append(f"fewer classes (now {n_classes}): merge or drop rare ones before "
                     "training — every class adds a channel to each head map")
    hints.append("or raise the budget with --max-model-mb / --max-memory-mb if your firmware "
                 "leaves more SRAM free")
    return ("the K210 kmodel does not fit: " + "; ".join(over) + ". Try: "
            + "; ".join(hints))


def export_device(ws: Workspace, target: str, weights: str, folder: Path, *,
                  imgsz: int | None, calibration: str, calibration_count: int, val: str,
                  val_limit: int | None, platform: str, budget: Budget,
                  goal: Int8Goal | None = None) -> DeviceResult:
    """Compile ``weights`` for ``target`` into ``folder`` and measure it in the simulator.

    Args:
        goal: the accuracy gate, mixed precision and the per-layer table for targets with
            hybrid quantization (default: plain INT8, no table).

    Raises:
        ToolchainError: the side environment is missing or the compiler/simulator failed.
        BudgetError: a K210 kmodel that does not fit (the folder is removed).
        ConfigError: bad options (no calibration for a quantize-only target, empty views,
            a per-layer table of an FP16 build).
    """
    spec = TARGETS.get(target)
    goal = goal or Int8Goal(mixed=False)
    if spec.backend != "simulator":
        raise ConfigError(f"--target {target} is not compiled by a vendor toolchain")
    if calibration == "none" and spec.needs_calibration:
        raise ConfigError(f"--target {target} compiles INT8 only: it needs --calibration VIEW")
    if goal.sensitivity and not spec.hybrid:
        raise ConfigError(f"--target {target} has no per-layer error analysis (--sensitivity)")
    if goal.sensitivity and calibration == "none":
        raise ConfigError(f"--sensitivity analyses an INT8 build: --target {target} with "
                          "--calibration none builds FP16; pass --calibration VIEW")
    python, environ = side_python(spec.toolchain)  # fail before any work when it is missing
    valset = ValSet.load(ws, val, limit=val_limit)
    if not valset.paths:
        raise ConfigError(f"the validation view {val!r} has no labeled images")
    reference = folder / "reference.fp32.onnx"
    info = export_raw_onnx(weights, reference, imgsz)
    work = folder / "build"
    work.mkdir()
    picked: dict[str, Any] | None = None
    calib_file: Path | None = None
    if calibration != "none":
        embedder = work / "embedding.onnx"  # the full graph: its embedding drives the pick
        export_onnx(weights, embedder, info.imgsz)
        images = calibration_images(ws, calibration, calibration_count, embedder)
        calib_file = work / "calibration.npy"
        np.save(calib_file, load_uint8(images, info.imgsz))
        picked = calibration_record(ws, calibration, images,
                                    "core-set over the FP32 embeddings")
    inputs = load_uint8(valset.paths, info.imgsz)
    np.save(work / "inputs.npy", inputs)
    compiled = reference
    rewrites = 0
    if spec.unslice:  # C2f's channel split breaks nncase 1.9's K210 runtime
        from workbench.deployment.onnx_unslice import unslice_convolutions

        compiled = work / "device.onnx"
        rewrites = unslice_convolutions(reference, compiled)
    model = folder / spec.model_file
    job = {"target": target, "onnx": str(compiled), "model": str(model), "imgsz": info.imgsz,
           "calibration": None if calib_file is None else str(calib_file),
           "inputs": str(work / "inputs.npy"), "outputs": str(work / "outputs.npz"),
           "platform": platform, "dump_dir": str(work / "dump"),
           "calibrate_method": spec.calibrate_method}
    log_path = folder / "compile.log"
    fp32 = MapsPredictor(info, onnx_runner(reference))

    def drive(phase: str, **keys: Any) -> None:
        job.update(keys)
        (work / "job.json").write_text(json.dumps(job, indent=1))
        _drive(python, environ, spec.driver, phase, work, log_path,
               spec.simulate_hint if phase == "simulate" else "")

    def measured(path: Path, memory: dict[str, int] | None,
                 float_layers: list[str] | None = None) -> Build:
        recorded = np.load(work / "outputs.npz")
        maps = [recorded[f"arr_{i}"] for i in range(len(recorded.files))]
        timing = json.loads((work / "outputs.npz.json").read_text())
        candidate = MapsPredictor(info, replay_runner(inputs, maps))
        return Build(model=path, map50=accuracy(candidate, valset, len(info.names))["map50"],
                     fidelity=output_fidelity(fp32, candidate, valset.paths, raw=True),
                     simulator_ms=round(timing["seconds_per_image"] * 1000, 1),
                     float_layers=(timing.get("float_layers", []) if float_layers is None
                                   else float_layers), memory=memory)

    def compiled_memory() -> tuple[dict[str, int] | None, str | None]:
        """The last compile's memory summary, and why it does not fit (K210 budget)."""
        used = parse_memory(log_path.read_text(errors="replace")) or None
        if not spec.memory_budget:
            return used, None
        return used, check_budget(used or {}, budget, info.imgsz, len(info.names))

    def rebuilt(layers: list[str], path: Path) -> Build | None:
        """A build with ``layers`` in higher precision at ``path`` (None: over the budget)."""
        if spec.layer_table != "kpu_sqnr":
            drive("hybrid", float_layers=layers, hybrid_dir=str(work / "hybrid"),
                  model=str(path))
            return measured(path, compiled_memory()[0])
        from workbench.deployment.onnx_offload import offload_convolutions

        offloaded = path.with_suffix(".onnx")
        applied = offload_convolutions(compiled, offloaded, layers)
        drive("compile", onnx=str(offloaded), model=str(path))
        used, problem = compiled_memory()
        if problem is not None:
            return None
        drive("simulate")
        return measured(path, used, applied)

    memory: dict[str, int] | None = None
    for phase in spec.phases:
        drive(phase)
        if phase != "compile":
            continue
        memory, problem = compiled_memory()
        if problem is not None:
            shutil.rmtree(folder)
            raise BudgetError(problem)
    ref_acc = accuracy(fp32, valset, len(info.names))
    chosen = measured(model, memory)
    int8: dict[str, Any] | None = None
    sensitivity: dict[str, Any] | None = None
    if spec.hybrid and calib_file is not None:
        chosen, int8, sensitivity = _accuracy_aware(target, chosen, goal, ref_acc["map50"],
                                                    drive, rebuilt, work, folder, compiled)
    shutil.rmtree(work)
    return DeviceResult(model=model, info=info, reference=reference, map50=chosen.map50,
                        map50_fp32=ref_acc["map50"], fidelity=chosen.fidelity,
                        latency_ms_fp32=round(ref_acc["seconds_per_image"] * 1000, 2),
                        simulator_ms=chosen.simulator_ms,
                        calibration=picked, memory=chosen.memory,
                        fits=True if spec.memory_budget else None,
                        val_images=len(valset.paths), slices_rewritten=rewrites,
                        int8=int8, sensitivity=sensitivity)


@dataclass
class _LayerTable:
    """The vendor's per-layer table of an INT8 build, ranked, with each layer's group."""

    ranking: list[dict[str, Any]]
    groups: dict[str, list[str]]
    images: int
    tool: str
    write_markdown: Callable[[list[dict[str, Any]], Path, int], Path]


def _layer_table(layer_table: str, goal: Int8Goal, drive: Callable[..., None], work: Path,
                 compiled: Path) -> _LayerTable:
    """Run the driver's ``analyze`` phase and rank what it left (``TargetSpec.layer_table``)."""
    analysis = work / "analysis"
    if layer_table == "kpu_sqnr":  # nncase 1.9 (K210): measured on the host
        from workbench.deployment import kpu_sqnr

        calibration = np.load(work / "calibration.npy")
        ranking = kpu_sqnr.kpu_ranking(compiled, calibration)
        return _LayerTable(ranking, {r["layer"]: r["group"] for r in ranking},
                           len(calibration), "host-side per-channel SQNR on the KPU's uint8 "
                           "grids (onnxruntime)", kpu_sqnr.write_markdown)
    if layer_table == "quant_error":  # nncase 2.x, over the calibration images
        from workbench.deployment import quant_errors

        drive("analyze", analysis_dir=str(analysis))
        cosines = quant_errors.parse_quant_error((analysis / "quant_error.csv").read_text())
        scheme = json.loads((analysis / "QuantScheme.json").read_text())
        ranking = quant_errors.worst_first(cosines, compiled)
        groups = quant_errors.int16_groups(compiled, [r["layer"] for r in ranking],
                                           {t["Name"] for t in scheme["Outputs"]})
        return _LayerTable(ranking, groups, len(np.load(work / "calibration.npy")),
                           "nncase quant_error (quantized vs float, accumulated from the "
                           "input)", quant_errors.write_markdown)
    from workbench.deployment import device_mixed, layer_errors

    calibration = np.load(work / "calibration.npy")
    np.save(work / "analysis.npy", calibration[:goal.analysis_images])
    drive("analyze", analysis_inputs=str(work / "analysis.npy"), analysis_dir=str(analysis))
    files = sorted(analysis.glob("image-*.txt"))
    rows = layer_errors.average([layer_errors.parse_error_analysis(f.read_text())
                                 for f in files])
    ranking = layer_errors.worst_first(rows)
    return _LayerTable(ranking, device_mixed.float_groups(compiled, [r["layer"] for r in ranking]),
                       len(files), "rknn-toolkit2 accuracy_analysis (simulator vs float)",
                       layer_errors.write_markdown)


def _accuracy_aware(target: str, plain: Build, goal: Int8Goal, map50_fp32: float,
                    drive: Callable[..., None],
                    rebuilt: Callable[[list[str], Path], Build | None], work: Path,
                    folder: Path, compiled: Path
                    ) -> tuple[Build, dict[str, Any], dict[str, Any] | None]:
    """The per-layer table and the hybrid search of an INT8 build (``TargetSpec.hybrid``).

    Args:
        rebuilt: builds with the named layers in higher precision at a path, simulates and
            measures (None: that build does not fit the device).

    Returns:
        ``(chosen, int8, sensitivity)``: the build kept (its model copied to the plain
        build's path), the report's ``int8`` section and its ``sensitivity`` section (None
        without ``goal.sensitivity``).
    """
    from workbench.deployment import device_mixed

    spec = TARGETS.get(target)
    plain_method, hybrid_method = spec.methods
    search = goal.mixed and not plain.gate(map50_fp32, goal)["passed"]
    if not (search or goal.sensitivity):
        return plain, device_mixed.plain_report(plain, map50_fp32, plain_method), None
    start = time.perf_counter()
    table = _layer_table(spec.layer_table, goal, drive, work, compiled)
    sensitivity = None
    if goal.sensitivity:
        sensitivity = {"layers": table.ranking, "images": table.images, "tool": table.tool,
                       "seconds": round(time.perf_counter() - start, 1),
                       "markdown": str(table.write_markdown(
                           table.ranking, folder / "sensitivity.md", table.images))}
    if not search:
        return plain, device_mixed.plain_report(plain, map50_fp32, plain_method,
                                                table.ranking), sensitivity
    builds = 0

    def simulate(layers: list[str]) -> Build | None:
        nonlocal builds
        builds += 1
        return rebuilt(layers, work / f"hybrid-{builds}{plain.model.suffix}")

    chosen, int8 = device_mixed.hybrid_within_budget(plain, table.ranking, table.groups,
                                                     simulate, map50_fp32, goal,
                                                     hybrid_method)
    if chosen is not plain:
        shutil.copy(chosen.model, plain.model)
        chosen.model = plain.model
    return chosen, int8, sensitivity


def _drive(python: Path, environ: dict[str, str], driver: str, phase: str, work: Path,
           log_path: Path, hint: str) -> None:
    """Run one driver phase in the side environment, appending its output to the log.

    Raises:
        ToolchainError: it failed (with the log's tail).
    """
    with log_path.open("a") as log:
        log.write(f"== {driver} {phase}\n")
        log.flush()
        proc = subprocess.run([str(python), str(DRIVERS / driver), phase,
                               str(work / "job.json")], stdout=log, stderr=subprocess.STDOUT,
                              cwd=work, env=environ, check=False)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").strip()[-1500:]
        advice = f"\n{hint}" if hint and "Invalid argument" in tail else ""
        raise ToolchainError(f"{driver} {phase} failed (exit {proc.returncode}); full log: "
                             f"{log_path}\n{tail}{advice}")
