"""Why INT8 can be slower than FP32 on an x86 host: formats, weight scales, threads, ISA.

One model (default: the shipped ``yolov8n-224.pt``) is exported to FP32 ONNX and quantized in
several ways with the project's own ``onnx_int8.prepare`` / ``quantize_prepared`` (QDQ or
QOperator, per-channel or per-tensor weights, uint8 or int8 activations, the TensorRT bundle's
symmetric QDQ, the convolutions' activation functions in int8 (``+act``: what
``onnx_int8.finalize`` ships), 7-bit weights). Every variant's session
latency — the model alone, one image, after warm-up, median of ``--runs`` passes taken in turns
with the others — is measured on 1 and 2 intra-op threads at ONNX Runtime's graph optimization
levels ``all`` and ``extended``, with its ratio to FP32 from the same run, and its raw-output
cosine against FP32 on ``--images`` validation images.

``--isa`` also measures them with the CPU's newer instructions hidden from ONNX Runtime (its
kernels pick their code path from CPUID, which a small preloaded library answers with the
chosen bits cleared): ``avx512-vnni`` (no AMX), ``avx512`` (no VNNI), ``avx2-vnni``, ``avx2``
(no AVX-512, no VNNI), ``avx`` (no AVX2/FMA), ``sse4`` (no AVX), or ``all``; the int8
kernels' speed depends on these far more than the float ones'. Needs Linux x86-64 with the
``cpuid_fault`` CPU flag and a C compiler; the emulated CPU runs at the host's clock and
cache sizes, so compare ratios, not milliseconds, with a real one.

``--map`` adds each variant's mAP50 on the demo validation images (127) and the end-to-end
per-image time of the export report (decode, letterbox, model, NMS at conf 0.01; one thread).

    .venv/bin/python benchmarks/bench_int8_speed.py [--weights W.pt|M.yaml] [--imgsz 224]
        [--runs 60] [--isa native,avx2] [--map] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"
SETTINGS = [(1, "all"), (1, "extended"), (2, "all"), (2, "extended")]
#: name -> quantize_prepared keywords; the first is the shipped onnx-int8 default.
VARIANTS: dict[str, dict[str, Any]] = {
    "qdq u8 per-channel (onnx-int8)": {},
    "qdq u8 per-tensor": {"per_channel": False},
    "qoperator u8 per-channel": {"fmt": "qoperator"},
    "qoperator u8 per-tensor": {"fmt": "qoperator", "per_channel": False},
    "qdq s8 per-channel": {"activations": "int8"},
    "qoperator s8 per-channel": {"fmt": "qoperator", "activations": "int8"},
    "qdq s8 symmetric (tensorrt)": {"symmetric": True},
    "qdq u8 per-channel 7-bit weights": {"reduce_range": True},
    "qdq u8 per-channel +act (finalize)": {"conv_activations": True},
    "qdq u8 per-tensor +act": {"conv_activations": True, "per_channel": False},
    "qoperator u8 per-channel +act": {"fmt": "qoperator", "conv_activations": True},
    "qdq u8 per-channel 7-bit +act": {"conv_activations": True, "reduce_range": True},
}
#: CPU flags that decide ONNX Runtime's int8 and fp32 kernels on x86.
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8",
         "amx_tile", "avx512_bf16")
#: ISA profiles for --isa: CPUID bits cleared (leaf 1 ECX; leaf 7.0 EBX, ECX, EDX; leaf 7.1
#: EAX, EDX).
_AVX512 = (0, 0xDC230000, 0x5842, 0x0080010C, 0x20, 0)
_AMX = (0, 0, 0, 0x03400000, 0, 0)
_VNNI = (0, 0, 0x800, 0, 0x10, 0x10)
_AVX2 = (0x1000, 0x20, 0, 0, 0, 0)  # AVX2 and FMA
_AVX = (0x30000000, 0, 0, 0, 0, 0)  # AVX and F16C


def _union(*masks: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(masks[0])
    for mask in masks:
        out = [a | b for a, b in zip(out, mask, strict=True)]
    return tuple(out)


ISA: dict[str, tuple[int, ...] | None] = {
    "native": None,
    "avx512-vnni": _AMX,  # Ice Lake / Cascade Lake server, AMD Zen 4: VNNI, no AMX
    "avx512": _union(_AMX, _VNNI),  # Skylake-SP: AVX-512 without VNNI
    "avx2-vnni": _union(_AMX, _AVX512),  # Alder Lake and later clients: AVX-VNNI
    "avx2": _union(_AMX, _AVX512, _VNNI),  # AMD Zen 2/3, Intel clients before Alder Lake
    "avx": _union(_AMX, _AVX512, _VNNI, _AVX2),  # Sandy / Ivy Bridge
    "sse4": _union(_AMX, _AVX512, _VNNI, _AVX2, _AVX),  # no AVX (Atom-class, old VMs)
}
_SHIM = r"""
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#define ARCH_SET_CPUID 0x1012
static unsigned long m[6];
static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  greg_t *r = uc->uc_mcontext.gregs;
  unsigned char *ip = (unsigned char *)r[REG_RIP];
  unsigned int a, b, c, d, leaf = r[REG_RAX], sub = r[REG_RCX];
  if (ip[0] != 0x0f || ip[1] != 0xa2) { signal(SIGSEGV, SIG_DFL); return; }
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  __cpuid_count(leaf, sub, a, b, c, d);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
  if (leaf == 1) { c &= ~m[0]; }
  if (leaf == 7 && sub == 0) { b &= ~m[1]; c &= ~m[2]; d &= ~m[3]; }
  if (leaf == 7 && sub == 1) { a &= ~m[4]; d &= ~m[5]; }
  r[REG_RAX] = a; r[REG_RBX] = b; r[REG_RCX] = c; r[REG_RDX] = d; r[REG_RIP] += 2;
}
__attribute__((constructor)) static void start(void) {
  const char *s = getenv("BENCH_CPUID_CLEAR");
  struct sigaction sa;
  char *end;
  if (!s) return;
  for (int k = 0; k < 6; k++) { m[k] = strtoul(s, &end, 16); s = *end ? end + 1 : end; }
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, 0);
  if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) abort();
}
"""


def cpu_info() -> dict[str, Any]:
    """The CPU's model name, core count, the int8-relevant flags, ONNX Runtime's version and
    what the flags say about its int8 kernels."""
    import onnxruntime as ort

    from workbench.deployment.speed import cpu_flags, int8_kernel_note

    name = platform.processor()
    with contextlib.suppress(OSError):
        name = next((line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name") and ":" in line), name)
    flags = cpu_flags()
    return {"cpu": name, "cores": os.cpu_count(), "flags": {f: f in flags for f in FLAGS},
            "onnxruntime": ort.__version__, "note": int8_kernel_note(flags)}


def build(weights: str, imgsz: int, work: Path, calibration: list[str],
          variants: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """FP32 ONNX of ``weights`` and each INT8 variant, in ``work``; name -> path."""
    from workbench.deployment.onnx_int8 import prepare, quantize_prepared
    from workbench.prediction.api import export_onnx

    fp32 = export_onnx(weights, work / "fp32.onnx", imgsz)
    prepared = prepare(fp32, work / "prepared.onnx")
    models = {"fp32": fp32}
    for k, (name, options) in enumerate(variants.items()):
        models[name] = quantize_prepared(prepared, fp32, work / f"int8-{k}.onnx", calibration,
                                         imgsz, **options)
    return models


def time_models(spec: dict[str, Any]) -> dict[str, Any]:
    """(In the child process.) Latency of every model per setting, and raw-output cosine
    against FP32 on the spec's images; imports only numpy and onnxruntime."""
    import numpy as np

    from workbench.deployment.speed import interleaved_ms, session

    x = np.load(spec["input"])
    images = np.load(spec["images"])
    out: dict[str, Any] = {"ms": {}, "cpu_ms": {}, "cosine": {}}
    for threads, level in SETTINGS:
        sessions = {name: session(path, threads, level) for name, path in spec["models"].items()}
        times = interleaved_ms(sessions, x, spec["runs"], spec["rounds"])
        out["ms"][f"{threads}/{level}"] = times["wall"]
        out["cpu_ms"][f"{threads}/{level}"] = times["cpu"]
        if threads == 1 and level == "all":
            ref = _outputs(sessions["fp32"], images)
            for name, s in sessions.items():
                got = _outputs(s, images)
                out["cosine"][name] = float(ref @ got / max(np.sqrt((ref @ ref) * (got @ got)),
                                                            1e-12))
    return out


def _outputs(sess: Any, images: Any) -> Any:
    import numpy as np

    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: images[k:k + 1]})[0].astype(np.float64).ravel()
                           for k in range(len(images))])


def run_child(spec_path: Path, isa: str, work: Path) -> dict[str, Any]:
    """Time the models in a fresh process, with ``isa``'s CPUID bits hidden from it."""
    env = dict(os.environ)
    mask = ISA[isa]
    if mask is not None:
        shim = work / "cpuid_mask.so"
        if not shim.is_file():
            (work / "cpuid_mask.c").write_text(_SHIM)
            subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(shim),
                            str(work / "cpuid_mask.c")], check=True)
        env["LD_PRELOAD"] = str(shim)
        env["BENCH_CPUID_CLEAR"] = ",".join(f"{m:x}" for m in mask)
    proc = subprocess.run([sys.executable, __file__, "--child", str(spec_path)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"timing under {isa} failed:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def map_and_pipeline(models: dict[str, Path]) -> dict[str, dict[str, float]]:
    """mAP50 on the demo validation images and the export report's end-to-end ms/image."""
    import numpy as np
    import yaml

    from workbench.core.boxes import cxcywhn_to_xyxyn
    from workbench.deployment.fidelity import ValSet, accuracy
    from workbench.prediction.api import OnnxPredictor

    names = yaml.safe_load((DEMO / "data.yaml").read_text())["names"]
    reference = OnnxPredictor(str(models["fp32"]), threads=1)
    index = {c: reference.names.index(c) if c in reference.names else -1 for c in names}
    paths = sorted(str(p) for p in (DEMO / "valid" / "images").iterdir())
    image, cxcywhn, cls = [], [], []
    for k, path in enumerate(paths):
        label = DEMO / "valid" / "labels" / (Path(path).stem + ".txt")
        for line in (label.read_text().splitlines() if label.is_file() else []):
            parts = line.split()
            if len(parts) == 5:
                image.append(k)
                cls.append(index[names[int(parts[0])]])
                cxcywhn.append([float(v) for v in parts[1:]])
    val = ValSet(paths, np.array(image, dtype=np.int64),
                 cxcywhn_to_xyxyn(np.array(cxcywhn, dtype=np.float64).reshape(-1, 4)),
                 np.array(cls, dtype=np.int64))
    out = {}
    for name, model in models.items():
        acc = accuracy(OnnxPredictor(str(model), threads=1), val, len(reference.names))
        out[name] = {"map50": acc["map50"], "pipeline_ms": acc["seconds_per_image"] * 1000}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEMO / "weights" / "yolov8n-224.pt"),
                        help="a .pt checkpoint, or a model .yaml (built untrained)")
    parser.add_argument("--imgsz", type=int, default=224)
    parser.add_argument("--runs", type=int, default=60, help="timed passes per model/setting")
    parser.add_argument("--rounds", type=int, default=6, help="turns the models take")
    parser.add_argument("--calibration-count", type=int, default=32)
    parser.add_argument("--images", type=int, default=30, help="images for the cosine")
    parser.add_argument("--isa", default="native", help=f"comma list of {', '.join(ISA)}; or all")
    parser.add_argument("--variants", default=None, help="comma list of variant numbers "
                        "(0-based, of VARIANTS; default: all)")
    parser.add_argument("--map", action="store_true", help="also mAP50 and pipeline ms")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_models(json.loads(Path(args.child).read_text()))))
        return

    import numpy as np

    from workbench.prediction.api import load_batch

    isas = list(ISA) if args.isa == "all" else args.isa.split(",")
    unknown = [i for i in isas if i not in ISA]
    if unknown:
        parser.error(f"unknown --isa {unknown} (known: {', '.join(ISA)})")
    chosen = VARIANTS if args.variants is None else {
        name: VARIANTS[name] for k, name in enumerate(VARIANTS)
        if str(k) in args.variants.split(",")}
    train = sorted(str(p) for p in (DEMO / "train" / "images").iterdir())
    val = sorted(str(p) for p in (DEMO / "valid" / "images").iterdir())
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        work = Path(tmp)
        models = build(args.weights, args.imgsz, work,
                       train[:: max(len(train) // args.calibration_count, 1)]
                       [:args.calibration_count], chosen)
        np.save(work / "input.npy", load_batch(val[:1], args.imgsz)[0])
        np.save(work / "images.npy", load_batch(val[:args.images], args.imgsz)[0])
        spec = {"models": {k: str(v) for k, v in models.items()}, "runs": args.runs,
                "rounds": args.rounds, "input": str(work / "input.npy"),
                "images": str(work / "images.npy")}
        (work / "spec.json").write_text(json.dumps(spec))
        report: dict[str, Any] = {**cpu_info(), "weights": args.weights, "imgsz": args.imgsz,
                                  "runs": args.runs, "settings": [f"{t}/{lv}" for t, lv in
                                                                  SETTINGS], "isa": {}}
        for isa in isas:
            report["isa"][isa] = run_child(work / "spec.json", isa, work)
            if not args.json:
                _print_table(isa, report["isa"][isa])
        if args.map:
            report["map"] = map_and_pipeline(models)
            if not args.json:
                _print_map(report["map"])
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        flags = " ".join(f for f, on in report["flags"].items() if on)
        print(f"\n{report['cpu']}, {report['cores']} cores, onnxruntime "
              f"{report['onnxruntime']}; flags: {flags}")
        if report["note"]:
            print(report["note"])


def _print_table(isa: str, result: dict[str, Any]) -> None:
    """Wall-clock ms per setting and, on one thread, CPU ms (robust on a busy machine)."""
    cols = [("ms", c) for c in result["ms"]] + [("cpu_ms", c) for c in result["cpu_ms"]
                                                 if c.startswith("1/")]
    print(f"\n### ISA: {isa} — ms per image (ratio to FP32 in the same setting); "
          "settings: threads/graph optimization level; cpu: CPU time of the pass\n")
    print("| variant | " + " | ".join(c if k == "ms" else f"{c} cpu" for k, c in cols)
          + " | cosine vs FP32 |")
    print("|---|" + "---|" * (len(cols) + 1))
    for name in result["ms"][cols[0][1]]:
        cells = [f"{result[k][c][name]:.2f} ({result[k][c][name] / result[k][c]['fp32']:.2f}×)"
                 for k, c in cols]
        print(f"| {name} | " + " | ".join(cells) + f" | {result['cosine'][name]:.5f} |")


def _print_map(rows: dict[str, dict[str, float]]) -> None:
    print("\n| variant | mAP50 (127 val images) | pipeline ms/image (1 thread, conf 0.01) |")
    print("|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['map50']:.4f} | {row['pipeline_ms']:.1f} |")


if __name__ == "__main__":
    main()
