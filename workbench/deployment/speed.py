"""Forward-pass timing in a clean child process (imports only numpy and onnxruntime).

Kept apart from the rest of workbench so that the peak memory a benchmark reports is the
model's and its runtime's, not torch's or FiftyOne's.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np

WARMUP = 5


def measure(model: str, inputs: str, queue: Any) -> None:
    """Load ``model``, warm up, time one forward pass per image of ``inputs`` (``.npy``,
    ``(N, 3, S, S)``) on one thread, and put ``{"times", "peak_rss_mb", "model_rss_mb"}`` on
    ``queue``: the process's peak, and that peak less what the process held once the inputs
    were loaded (the session, its weights and its working memory)."""
    import onnxruntime as ort

    x = np.load(inputs)
    baseline = _status_mb("VmRSS:")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for k in range(min(WARMUP, len(x))):
        session.run(None, {name: x[k:k + 1]})
    times = []
    for k in range(len(x)):
        t0 = time.perf_counter()
        session.run(None, {name: x[k:k + 1]})
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
