"""Build an ``.rknn`` from a raw-head ONNX with rknn-toolkit2 and run it in its simulator.

Runs in the ``rknn`` side environment. Usage: ``python rknn_driver.py run job.json``. INT8
(``w8a8``) when the job names calibration images (uint8 NCHW ``.npy``), FP16 otherwise. The
toolkit's simulator only runs a model built in the same session, so building and simulating
are one phase. Inputs are uint8 NCHW; the model maps them to [0, 1] itself (std 255).
"""

import json
import os
import sys
import time
from typing import Any

import numpy as np
from rknn.api import RKNN


def fail(step: str, code: int) -> None:
    """Stop with the toolkit's step name (its own log above says why)."""
    print(f"rknn-toolkit2: {step} failed with code {code}", file=sys.stderr)
    sys.exit(2)


def run(job: dict[str, Any]) -> None:
    """Build, export, then simulate every input image; save the output maps."""
    rknn = RKNN(verbose=False)
    rknn.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]],
                target_platform=job["platform"])
    code = rknn.load_onnx(model=job["onnx"])
    if code != 0:
        fail("load_onnx", code)
    dataset = None
    if job["calibration"]:
        calib = np.load(job["calibration"])
        folder = os.path.join(job["dump_dir"], "calibration")
        os.makedirs(folder, exist_ok=True)
        dataset = os.path.join(job["dump_dir"], "dataset.txt")
        with open(dataset, "w") as f:
            for k in range(len(calib)):
                name = os.path.join(folder, f"{k:05d}.npy")
                np.save(name, calib[k:k + 1])  # the toolkit reads NCHW .npy as is
                f.write(name + "\n")
    code = rknn.build(do_quantization=dataset is not None, dataset=dataset)
    if code != 0:
        fail("build", code)
    code = rknn.export_rknn(job["model"])
    if code != 0:
        fail("export_rknn", code)
    code = rknn.init_runtime()  # no target: the simulator
    if code != 0:
        fail("init_runtime (simulator)", code)
    inputs = np.load(job["inputs"])
    outputs: list[list[np.ndarray]] = []
    start = time.perf_counter()
    for k in range(len(inputs)):
        maps = rknn.inference(inputs=[np.ascontiguousarray(inputs[k:k + 1])], data_format="nchw")
        if not outputs:
            outputs = [[] for _ in maps]
        for i, m in enumerate(maps):
            outputs[i].append(np.asarray(m, dtype=np.float32))
    seconds = time.perf_counter() - start
    rknn.release()
    np.savez(job["outputs"], *[np.concatenate(o) for o in outputs])
    with open(job["outputs"] + ".json", "w") as f:
        json.dump({"seconds_per_image": seconds / max(len(inputs), 1)}, f)


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        task = json.load(f)
    run(task)
