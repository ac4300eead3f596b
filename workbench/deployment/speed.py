"""Forward-pass timing of ONNX models on this host (imports only numpy and onnxruntime).

Kept apart from the rest of workbench so that the peak memory a benchmark reports, measured
in a clean child process (:func:`measure`), is the model's and its runtime's, not torch's or
FiftyOne's. Also: sessions at a chosen thread count and graph optimization level, models
timed in turns (:func:`interleaved_ms`, :func:`latency_by_threads`), and what the CPU's
flags say about ONNX Runtime's int8 kernels (:func:`int8_kernel_note`).
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np

WARMUP = 5
#: ONNX Runtime graph optimization levels by name (``all`` is ONNX Runtime's default; it adds
#: the layout transformations, e.g. FP32 convolutions in the blocked NCHWc layout).
LEVELS = ("disable", "basic", "extended", "all")


def session(model: str, threads: int = 1, level: str = "all") -> Any:
    """A CPU ``InferenceSession`` of ``model`` on ``threads`` intra-op threads at graph
    optimization ``level`` (one of :data:`LEVELS`)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def interleaved_ms(sessions: dict[str, Any], x: np.ndarray, runs: int, rounds: int = 5,
                   warmup: int = WARMUP) -> dict[str, dict[str, float]]:
    """Median milliseconds of one forward pass of ``x`` per session, wall clock and CPU.

    The sessions take turns (``rounds`` rounds of ``runs // rounds`` passes each, after
    ``warmup`` passes each), so that a slower or busier stretch of the machine falls on all
    of them alike and their ratios stay comparable.

    Returns:
        ``{"wall": {key: ms}, "cpu": {key: ms}}``: ``cpu`` is this process's CPU time per
        pass (all its threads), which other programs on a shared machine disturb far less
        than the wall clock; on one intra-op thread it is the latency of an idle machine.
    """
    feeds = {key: {s.get_inputs()[0].name: x} for key, s in sessions.items()}
    for key, s in sessions.items():
        for _ in range(warmup):
            s.run(None, feeds[key])
    wall: dict[str, list[float]] = {key: [] for key in sessions}
    cpu: dict[str, list[float]] = {key: [] for key in sessions}
    per_round = max(runs // max(rounds, 1), 1)
    for _ in range(max(rounds, 1)):
        for key, s in sessions.items():
            for _ in range(per_round):
                t0, c0 = time.perf_counter(), time.process_time()
                s.run(None, feeds[key])
                wall[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
    return {"wall": {key: float(np.median(t)) * 1000 for key, t in wall.items()},
            "cpu": {key: float(np.median(t)) * 1000 for key, t in cpu.items()}}


def latency_by_threads(models: dict[str, str], x: np.ndarray, threads: tuple[int, ...],
                       runs: int = 40, rounds: int = 4) -> dict[int, dict[str, float]]:
    """Model-only median ms per forward pass of ``x`` for each model (name -> path) on each
    intra-op thread count, the models taking turns (:func:`interleaved_ms`):
    ``{threads: {name: ms}}``. On a busy machine the multi-thread figures carry its load."""
    out: dict[int, dict[str, float]] = {}
    for n in threads:
        sessions = {name: session(path, n) for name, path in models.items()}
        out[n] = interleaved_ms(sessions, x, runs, rounds)["wall"]
    return out


def int8_kernel_note(flags: set[str] | None = None) -> str | None:
    """Why ONNX Runtime's int8 convolutions may gain little or lose against FP32 on this x86
    CPU, from its ``/proc/cpuinfo`` flags (``flags`` to check others); None when it has
    VNNI or AMX, or is not an x86 Linux host. Figures: ``benchmarks/bench_int8_speed.py``
    with the instructions hidden (docs/int8.md, "INT8 speed on the host")."""
    if flags is None:
        flags = cpu_flags()
    if "sse2" not in flags:  # not x86 (or no /proc/cpuinfo)
        return None
    if {"avx512_vnni", "avx_vnni", "amx_int8"} & flags:
        return None
    if "avx" in flags and "avx2" not in flags:
        return ("this CPU has AVX but not AVX2: ONNX Runtime's int8 convolutions run 128-bit "
                "SSE4.1 code while FP32 runs 256-bit AVX, so INT8 is slower here (measured "
                "1.2-1.3x FP32's time with AVX2 hidden); it saves size, not time")
    return ("this CPU has no VNNI (int8 dot-product) instructions: ONNX Runtime's int8 "
            "convolutions gain little over FP32 here (measured 0.6-0.95x FP32's time on one "
            "thread without VNNI, up to 1.14x on two, against 0.33-0.72x with VNNI)")


def cpu_flags() -> set[str]:
    """The CPU flags of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags") and ":" in line:
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def measure(model: str, inputs: str, queue: Any, threads: int = 1) -> None:
    """Load ``model``, warm up, time one forward pass per image of ``inputs`` (``.npy``,
    ``(N, 3, S, S)``) on ``threads`` threads, and put ``{"times", "peak_rss_mb",
    "model_rss_mb"}`` on ``queue``: the process's peak, and that peak less what the process
    held once the inputs were loaded (the session, its weights and its working memory)."""
    x = np.load(inputs)
    baseline = _status_mb("VmRSS:")
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    for k in range(min(WARMUP, len(x))):
        sess.run(None, {name: x[k:k + 1]})
    times = []
    for k in range(len(x)):
        t0 = time.perf_counter()
        sess.run(None, {name: x[k:k + 1]})
        times.append(time.perf_counter() - t0)
    peak = peak_rss_mb()
    queue.put({"times": times, "peak_rss_mb": peak,
               "model_rss_mb": None if baseline is None else peak - baseline})


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    ``VmHWM`` of ``/proc/self/status`` where it exists: ``ru_maxrss`` keeps the peak of the
    process image before ``exec``, i.e. of the (large) parent a spawned child was forked from.
    """
    hwm = _status_mb("VmHWM:")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
