"""Build an ``.rknn`` from a raw-head ONNX with rknn-toolkit2 and run it in its simulator.

Runs in the ``rknn`` side environment. Usage: ``python rknn_driver.py PHASE job.json``. INT8
(``w8a8``) when the job names calibration images (uint8 NCHW ``.npy``), FP16 otherwise. The
toolkit's simulator only runs a model built in the same session, so building and simulating
are one phase. Inputs are uint8 NCHW; the model maps them to [0, 1] itself (std 255).

Phases:

* ``run``: build (INT8 or FP16), export ``job["model"]``, simulate every input image.
* ``analyze``: build INT8 and run the toolkit's ``accuracy_analysis`` (the simulator against
  its own float run, layer by layer) once per image of ``job["analysis_inputs"]`` (it reads one
  sample per call); each ``error_analysis.txt`` is kept as ``job["analysis_dir"]/image-K.txt``
  and the per-layer tensor dumps are deleted.
* ``hybrid``: the toolkit's hybrid quantization. ``hybrid_quantization_step1`` (once per
  ``job["hybrid_dir"]``) writes the quantized model, its data and ``*.quantization.cfg``;
  the layers of ``job["float_layers"]`` are written into that file's
  ``custom_quantize_layers`` as ``float16`` (text only: the toolkit refuses a file whose saved
  scales changed), ``hybrid_quantization_step2`` builds, then export and simulate as ``run``.
  Names the file does not list as quantized tensors are skipped; the layers applied are
  written to ``job["outputs"] + ".json"``.
"""

import json
import os
import shutil
import sys
import time
from typing import Any

import numpy as np
from rknn.api import RKNN

CUSTOM_EMPTY = "custom_quantize_layers: {}\n"


def fail(step: str, code: int) -> None:
    """Stop with the toolkit's step name (its own log above says why)."""
    print(f"rknn-toolkit2: {step} failed with code {code}", file=sys.stderr)
    sys.exit(2)


def check(step: str, code: int) -> None:
    """Stop when a toolkit call returned non-zero."""
    if code != 0:
        fail(step, code)


def configured(job: dict[str, Any]) -> RKNN:
    """A toolkit session with the workbench's input normalization and target platform."""
    rknn = RKNN(verbose=False)
    rknn.config(mean_values=[[0, 0, 0]], std_values=[[255, 255, 255]],
                target_platform=job["platform"])
    return rknn


def loaded(job: dict[str, Any]) -> RKNN:
    """A configured session with the job's ONNX loaded."""
    rknn = configured(job)
    check("load_onnx", rknn.load_onnx(model=job["onnx"]))
    return rknn


def write_dataset(job: dict[str, Any]) -> str | None:
    """The calibration images as one NCHW ``.npy`` each, listed in ``dataset.txt``."""
    if not job["calibration"]:
        return None
    calib = np.load(job["calibration"])
    folder = os.path.join(job["dump_dir"], "calibration")
    os.makedirs(folder, exist_ok=True)
    dataset = os.path.join(job["dump_dir"], "dataset.txt")
    with open(dataset, "w") as f:
        for k in range(len(calib)):
            name = os.path.join(folder, f"{k:05d}.npy")
            np.save(name, calib[k:k + 1])  # the toolkit reads NCHW .npy as is
            f.write(name + "\n")
    return dataset


def simulate(rknn: RKNN, job: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Export the built model, run every input image in the simulator, save the maps."""
    check("export_rknn", rknn.export_rknn(job["model"]))
    check("init_runtime (simulator)", rknn.init_runtime())  # no target: the simulator
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
        json.dump({"seconds_per_image": seconds / max(len(inputs), 1), **(extra or {})}, f)


def run(job: dict[str, Any]) -> None:
    """Build, export, then simulate every input image; save the output maps."""
    rknn = loaded(job)
    dataset = write_dataset(job)
    check("build", rknn.build(do_quantization=dataset is not None, dataset=dataset))
    simulate(rknn, job)


def analyze(job: dict[str, Any]) -> None:
    """Build INT8 and keep the toolkit's per-layer error table for each analysis image."""
    rknn = loaded(job)
    dataset = write_dataset(job)
    if dataset is None:
        fail("accuracy_analysis (no calibration images: nothing is quantized)", 1)
    check("build", rknn.build(do_quantization=True, dataset=dataset))
    images = np.load(job["analysis_inputs"])
    os.makedirs(job["analysis_dir"], exist_ok=True)
    for k in range(len(images)):
        snapshot = os.path.join(job["dump_dir"], f"snapshot-{k}")
        sample = os.path.join(job["dump_dir"], f"analysis-{k}.npy")
        np.save(sample, images[k:k + 1])
        check("accuracy_analysis", rknn.accuracy_analysis(inputs=[sample],
                                                          output_dir=snapshot))
        shutil.move(os.path.join(snapshot, "error_analysis.txt"),
                    os.path.join(job["analysis_dir"], f"image-{k}.txt"))
        shutil.rmtree(snapshot)  # the layer dumps: tens of MB per image
    rknn.release()


def quantization_cfg(job: dict[str, Any]) -> str:
    """Step 1 of hybrid quantization (once per folder); returns its ``.quantization.cfg``."""
    folder = job["hybrid_dir"]
    stem = os.path.splitext(os.path.basename(job["onnx"]))[0]
    cfg = os.path.join(folder, f"{stem}.quantization.cfg")
    if os.path.exists(cfg):
        return cfg
    os.makedirs(folder, exist_ok=True)
    dataset = write_dataset(job)
    if dataset is None:
        fail("hybrid_quantization_step1 (no calibration images)", 1)
    rknn = loaded(job)
    here = os.getcwd()
    os.chdir(folder)  # step 1 writes its three files into the working directory
    try:
        check("hybrid_quantization_step1",
              rknn.hybrid_quantization_step1(dataset=dataset, proposal=False))
    finally:
        os.chdir(here)
    rknn.release()
    return cfg


def quantized_tensors(text: str) -> set[str]:
    """The tensors a ``.quantization.cfg`` quantizes (the names step 2 accepts)."""
    from ruamel.yaml import YAML

    params = YAML(typ="safe").load(text).get("quantize_parameters") or {}
    return {name for name, p in params.items() if (p or {}).get("dtype") != "float32"}


def with_float_layers(text: str, layers: list[str]) -> str:
    """The cfg text with ``layers`` as float16 in ``custom_quantize_layers``."""
    if not layers:
        return text
    if CUSTOM_EMPTY not in text:
        fail("hybrid quantization (no empty custom_quantize_layers in the step 1 cfg)", 1)
    quoted = "".join("    '{}': float16\n".format(n.replace("'", "''")) for n in layers)
    return text.replace(CUSTOM_EMPTY, "custom_quantize_layers:\n" + quoted, 1)


def hybrid(job: dict[str, Any]) -> None:
    """Rebuild with ``job["float_layers"]`` in float16, export and simulate."""
    cfg = quantization_cfg(job)
    base = cfg[:-len(".quantization.cfg")]
    with open(cfg) as f:
        text = f.read()
    known = quantized_tensors(text)
    applied = [n for n in job["float_layers"] if n in known]
    skipped = [n for n in job["float_layers"] if n not in known]
    if skipped:
        print(f"hybrid quantization: not quantized tensors, skipped: {skipped}")
    custom = os.path.join(job["dump_dir"], "hybrid.quantization.cfg")
    with open(custom, "w") as f:
        f.write(with_float_layers(text, applied))
    rknn = configured(job)
    check("hybrid_quantization_step2", rknn.hybrid_quantization_step2(
        model_input=base + ".model", data_input=base + ".data",
        model_quantization_cfg=custom))
    simulate(rknn, job, {"float_layers": applied, "skipped": skipped})


PHASES = {"run": run, "analyze": analyze, "hybrid": hybrid}

if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        task = json.load(f)
    os.makedirs(task["dump_dir"], exist_ok=True)
    PHASES[sys.argv[1]](task)
