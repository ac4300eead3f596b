"""The export targets: one descriptor per target, registered in :data:`TARGETS`.

Everything that differs between targets (how the model is built and measured, whether it is
quantized, what the report adds) is a field of its :class:`TargetSpec`; the export code, the
device driver, the toolchain status and the CLI read these fields and never test a target's
name. Adding a target is one :meth:`~workbench.registry.Registry.register` call here (plus its
driver or writer) and its tests.

Light at import: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.registry import Registry

#: Rockchip SoCs that ``--target rknn`` compiles for (``--platform``); the first is the default.
RKNN_PLATFORMS = ("rk3588", "rk3566", "rk3568", "rk3576", "rk3562", "rv1106", "rv1103")

#: Shown when nncase 1.9's K210 simulator rejects a graph.
K210_SIMULATOR_HINT = (
    "nncase 1.9's K210 runtime rejected a buffer of this graph ('Invalid argument'; channel "
    "slices of a convolution's output are already rewritten, so another pattern is involved); "
    "the microcontroller config (--model configs/models/micro-relu.yaml) compiles and "
    "simulates")


@dataclass(frozen=True)
class TargetSpec:
    """How one export target is built, measured and reported.

    Attributes:
        help: one line for help texts and the App.
        backend: ``onnxruntime``: exported here and measured with onnxruntime;
            ``simulator``: compiled by a vendor toolchain in its side environment and
            measured in the vendor's simulator (:mod:`workbench.deployment.devices`).
        model_file: the file name of the deployable model inside the export folder.
        toolchain: the toolchain row of ``workbench toolchain status`` that serves it; for
            ``simulator`` targets the side environment ``toolchain install NAME`` builds.
        quantized: ``onnxruntime`` targets: an INT8 model calibrated on ``--calibration``.
        symmetric: INT8 with zero points of 0 (TensorRT's explicit quantization).
        keep_fp32: ship the FP32 ONNX as ``model.onnx`` (otherwise it is kept as
            ``reference.fp32.onnx``, the fidelity reference).
        engine_bundle: write the Jetson bundle (``build.sh``, ``run_trt.py``, calibration).
        needs_calibration: compiles INT8 only (``--calibration none`` is refused).
        driver: ``simulator`` targets: the driver script (``export/drivers/``) and
            ``phases``: its phases, in order (the memory budget is checked after ``compile``).
        unslice: rewrite channel slices of convolution outputs first (nncase 1.9, K210).
        memory_budget: check the compiler's memory summary against the K210 budget and add
            ``budget_mb`` and ``slices_rewritten`` to the report.
        platform: compiles for a ``--platform`` of :data:`RKNN_PLATFORMS` (in the report).
        device_script: write the MaixPy script that runs the model on the board.
        simulate_hint: advice added when the simulator rejects a buffer.
        hybrid: named layers can be rebuilt in higher precision: ``--mixed-precision`` and
            ``--sensitivity`` for the target (:mod:`workbench.deployment.device_mixed`).
        layer_table: ``hybrid`` targets: where the per-layer table comes from and how a
            layer is rebuilt — ``accuracy_analysis`` (rknn-toolkit2,
            :mod:`workbench.deployment.layer_errors`) or ``quant_error`` (nncase 2.x,
            :mod:`workbench.deployment.quant_errors`): the driver's phases ``analyze`` and
            ``hybrid``; ``kpu_sqnr`` (nncase 1.9): measured on the host
            (:mod:`workbench.deployment.kpu_sqnr`), the layers taken off the KPU by an ONNX
            rewrite (:mod:`workbench.deployment.onnx_offload`) and compiled again.
        methods: ``hybrid`` targets: the report's ``int8.method`` of a plain build and of a
            build with layers in higher precision.
        calibrate_method: the compiler's calibration method when it has a choice (nncase
            2.x: ``NoClip`` keeps every activation's full range; its default ``Kld`` clips).
    """

    help: str
    backend: Literal["onnxruntime", "simulator"]
    model_file: str
    toolchain: str
    quantized: bool = False
    symmetric: bool = False
    keep_fp32: bool = False
    engine_bundle: bool = False
    needs_calibration: bool = False
    driver: str = ""
    phases: tuple[str, ...] = ()
    unslice: bool = False
    memory_budget: bool = False
    platform: bool = False
    device_script: bool = False
    simulate_hint: str = ""
    hybrid: bool = False
    layer_table: Literal["", "accuracy_analysis", "quant_error", "kpu_sqnr"] = ""
    methods: tuple[str, str] = ("", "")
    calibrate_method: str = ""


TARGETS: Registry[TargetSpec] = Registry("target")


def _register(name: str, spec: TargetSpec) -> None:
    TARGETS.register(name, spec, help=spec.help, backend=spec.backend)


_register("onnx", TargetSpec(
    "static-shape FP32 ONNX (opset 17, simplified), the fidelity reference",
    "onnxruntime", "model.onnx", "onnxruntime", keep_fp32=True))
_register("onnx-int8", TargetSpec(
    "ONNX Runtime static INT8 (QDQ) calibrated on a diverse pick",
    "onnxruntime", "model.int8.onnx", "onnxruntime", quantized=True))
_register("tensorrt", TargetSpec(
    "Jetson bundle: FP32 ONNX, symmetric INT8 QDQ ONNX, build.sh for the engines",
    "onnxruntime", "model.int8.qdq.onnx", "tensorrt", quantized=True, symmetric=True,
    keep_fp32=True, engine_bundle=True))
_register("k210", TargetSpec(
    "Kendryte K210 kmodel (nncase 1.9; INT8 on the KPU, the worst convolutions in float on "
    "the CPU when needed), memory budget checked, MaixPy script",
    "simulator", "model.kmodel", "k210", needs_calibration=True, driver="nncase_driver.py",
    phases=("compile", "simulate"), unslice=True, memory_budget=True, device_script=True,
    simulate_hint=K210_SIMULATOR_HINT, hybrid=True, layer_table="kpu_sqnr",
    methods=("nncase int8", "nncase cpu float32")))
_register("k230", TargetSpec(
    "Kendryte K230 kmodel (nncase 2.x; INT8, the worst tensors in int16 when needed)",
    "simulator", "model.kmodel", "k230", needs_calibration=True, driver="nncase_driver.py",
    phases=("compile", "simulate"), hybrid=True, layer_table="quant_error",
    methods=("nncase int8", "nncase int16"), calibrate_method="NoClip"))
_register("rknn", TargetSpec(
    "Rockchip RKNN (rknn-toolkit2; INT8, or FP16 with --calibration none)",
    "simulator", "model.rknn", "rknn", driver="rknn_driver.py", phases=("run",),
    platform=True, hybrid=True, layer_table="accuracy_analysis",
    methods=("rknn int8", "rknn hybrid")))


def side_toolchains() -> list[str]:
    """The side environments the ``simulator`` targets need, in registration order."""
    return list(dict.fromkeys(TARGETS.get(n).toolchain for n in TARGETS.names(
        backend="simulator")))


def toolchain_groups() -> dict[str, list[str]]:
    """Toolchain name -> the targets it serves, in registration order."""
    groups: dict[str, list[str]] = {}
    for entry in TARGETS:
        groups.setdefault(entry.value.toolchain, []).append(entry.name)
    return groups
