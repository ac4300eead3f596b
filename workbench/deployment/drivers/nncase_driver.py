"""Compile a raw-head ONNX to a kmodel with nncase and run it in nncase's simulator.

Runs in a side environment: nncase 1.x (Python 3.10) for the K210, nncase 2.x for the K230.
Usage: ``python nncase_driver.py compile|simulate job.json``. The job names the ONNX, the
kmodel to write, uint8 NCHW ``.npy`` files for calibration and simulation, and where the
simulated maps go (``.npz``, one array per output, plus ``<outputs>.json`` with timings).
The compiler prints its memory summary on stdout; the caller parses it.
"""

import json
import sys
import time
from typing import Any

import nncase
import numpy as np


def compile_model(job: dict[str, Any]) -> None:
    """ONNX -> PTQ (uint8 input in [0, 255] mapped to [0, 1]) -> kmodel file."""
    size = int(job["imgsz"])
    opts = nncase.CompileOptions()
    opts.target = job["target"]
    opts.preprocess = True
    opts.input_type = "uint8"
    opts.input_range = [0, 1]
    opts.input_shape = [1, 3, size, size]
    opts.input_layout = "NCHW"
    opts.output_layout = "NCHW"
    opts.mean = [0, 0, 0]
    opts.std = [1, 1, 1]
    opts.swapRB = False
    opts.dump_ir = False
    opts.dump_asm = False
    opts.dump_dir = job["dump_dir"]
    compiler = nncase.Compiler(opts)
    with open(job["onnx"], "rb") as f:
        compiler.import_onnx(f.read(), nncase.ImportOptions())
    calib = np.load(job["calibration"])
    ptq = nncase.PTQTensorOptions()
    ptq.samples_count = len(calib)
    if job["target"] == "k210":  # nncase 1.x: all samples as one byte string
        ptq.set_tensor_data(np.ascontiguousarray(calib).tobytes())
    else:  # nncase 2.x: per sample, per input
        ptq.set_tensor_data([[np.ascontiguousarray(calib[k:k + 1])] for k in range(len(calib))])
    compiler.use_ptq(ptq)
    compiler.compile()
    with open(job["model"], "wb") as f:
        f.write(compiler.gencode_tobytes())
    sys.stdout.flush()


def simulate(job: dict[str, Any]) -> None:
    """Run every input image through the kmodel in the simulator; save the output maps."""
    sim = nncase.Simulator()
    with open(job["model"], "rb") as f:
        sim.load_model(f.read())
    count = sim.outputs_size() if callable(sim.outputs_size) else sim.outputs_size
    inputs = np.load(job["inputs"])
    outputs: list[list[np.ndarray]] = [[] for _ in range(count)]
    start = time.perf_counter()
    for k in range(len(inputs)):
        sim.set_input_tensor(0, nncase.RuntimeTensor.from_numpy(
            np.ascontiguousarray(inputs[k:k + 1])))
        sim.run()
        for i in range(count):
            outputs[i].append(np.array(sim.get_output_tensor(i).to_numpy(), dtype=np.float32))
        print(f"simulated {k + 1}/{len(inputs)}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    np.savez(job["outputs"], *[np.concatenate(o) for o in outputs])
    with open(job["outputs"] + ".json", "w") as f:
        json.dump({"seconds_per_image": seconds / max(len(inputs), 1)}, f)


if __name__ == "__main__":
    phase, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        task = json.load(f)
    {"compile": compile_model, "simulate": simulate}[phase](task)
