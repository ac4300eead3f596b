"""Compile a raw-head ONNX to a kmodel with nncase and run it in nncase's simulator.

Runs in a side environment: nncase 1.x (Python 3.10) for the K210, nncase 2.x for the K230.
Usage: ``python nncase_driver.py PHASE job.json``. The job names the ONNX, the kmodel to write,
uint8 NCHW ``.npy`` files for calibration and simulation, and where the simulated maps go
(``.npz``, one array per output, plus ``<outputs>.json`` with timings). The compiler prints its
memory summary on stdout; the caller parses it. ``job["calibrate_method"]`` (nncase 2.x:
``Kld`` or ``NoClip``) picks how activation ranges are calibrated.

Phases:

* ``compile``: ONNX -> PTQ -> ``job["model"]``; ``simulate``: every input image through it.
* ``analyze`` (nncase 2.x): one compile that exports the quantization scheme nncase chose
  (``QuantScheme.json``: each quantized tensor by its ONNX name, activations by tensor, weights
  by channel) and its per-tensor error table (``quant_error.csv``: the cosine of each tensor
  against float, accumulated from the input) into ``job["analysis_dir"]``; the rest of the IR
  dump (tens of MB) is deleted. nncase 2.11 writes the scheme only when it dumps its IR.
* ``hybrid`` (nncase 2.x): the analysed scheme with the tensors of ``job["float_layers"]`` set
  to ``i16`` (nncase's f16 and f32 give the same results as i16 there), written to
  ``job["hybrid_dir"]``, compiled with it (``quant_scheme``) and simulated as ``simulate``.
  Names the scheme does not list are skipped; the names applied go to ``<outputs>.json``.
"""

import glob
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import nncase
import numpy as np

HIGHER = "i16"


def compile_model(job: dict[str, Any], *, dump_ir: bool = False,
                  **ptq_options: Any) -> None:
    """ONNX -> PTQ (uint8 input in [0, 255] mapped to [0, 1]) -> kmodel file.

    Args:
        dump_ir: let nncase dump its IR into ``job["dump_dir"]``.
        ptq_options: further ``PTQTensorOptions`` attributes (nncase 2.x).
    """
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
    opts.dump_ir = dump_ir
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
        if job.get("calibrate_method"):
            ptq.calibrate_method = job["calibrate_method"]
    for key, value in ptq_options.items():
        setattr(ptq, key, value)
    compiler.use_ptq(ptq)
    compiler.compile()
    with open(job["model"], "wb") as f:
        f.write(compiler.gencode_tobytes())
    sys.stdout.flush()


def simulate(job: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
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
        json.dump({"seconds_per_image": seconds / max(len(inputs), 1), **(extra or {})}, f)


def analyze(job: dict[str, Any]) -> None:
    """Keep nncase's quantization scheme and per-tensor error table of the INT8 build."""
    job = {**job, "model": os.path.join(job["dump_dir"], "analysis.kmodel")}
    compile_model(job, dump_ir=True, export_quant_scheme=True,
                  export_weight_range_by_channel=True, dump_quant_error=True)
    scheme = os.path.join(job["dump_dir"], "QuantScheme.json")
    tables = glob.glob(os.path.join(job["dump_dir"], "**", "quant_error.csv"), recursive=True)
    if not os.path.exists(scheme) or len(tables) != 1:
        print("nncase wrote no QuantScheme.json or not one quant_error.csv", file=sys.stderr)
        sys.exit(2)
    os.makedirs(job["analysis_dir"], exist_ok=True)
    shutil.copy(scheme, job["analysis_dir"])
    shutil.copy(tables[0], job["analysis_dir"])
    shutil.rmtree(job["dump_dir"])


def hybrid(job: dict[str, Any]) -> None:
    """Compile with ``job["float_layers"]`` in int16 in the analysed scheme, then simulate."""
    with open(os.path.join(job["analysis_dir"], "QuantScheme.json")) as f:
        scheme = json.load(f)
    wanted = set(job["float_layers"])
    applied = []
    for tensor in scheme["Outputs"]:
        if tensor["Name"] in wanted:
            tensor["DataType"] = HIGHER
            applied.append(tensor["Name"])
    skipped = [n for n in job["float_layers"] if n not in applied]
    if skipped:
        print(f"quant scheme: tensors it does not list, skipped: {skipped}")
    os.makedirs(job["hybrid_dir"], exist_ok=True)
    path = os.path.join(job["hybrid_dir"], "QuantScheme.json")
    with open(path, "w") as f:
        json.dump(scheme, f, indent=1)
    compile_model(job, quant_scheme=path)
    ordered = [n for n in job["float_layers"] if n in applied]
    simulate(job, {"float_layers": ordered, "skipped": skipped})


PHASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "compile": compile_model, "simulate": simulate, "analyze": analyze, "hybrid": hybrid}

if __name__ == "__main__":
    phase, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        task = json.load(f)
    PHASES[phase](task)
