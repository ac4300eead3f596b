"""Accuracy-aware INT8 for device targets: the vendor's hybrid quantization, layer by layer.

A device target whose driver can rebuild with chosen layers in higher precision
(``TargetSpec.hybrid``: rknn-toolkit2's hybrid quantization in float16, nncase 2.x's
quantization scheme in int16 for the K230, convolutions taken off the K210's KPU into float32
on its CPU) is made accuracy-aware here, on the host, with the same search as the ONNX targets
(:mod:`workbench.deployment.mixed`):

1. the plain INT8 build is simulated and measured (mAP50 and raw-output cosine against FP32);
2. when it is beyond the gate (``max_drop`` points, ``min_cosine``), the vendor's per-layer
   error table (:mod:`workbench.deployment.layer_errors`,
   :mod:`workbench.deployment.quant_errors`, :mod:`workbench.deployment.kpu_sqnr`) ranks the
   layers by their own error;
3. the 1, 2, 4 … worst layers are kept in higher precision, rebuilt, re-simulated and
   re-measured each time, at most ``max_layers`` layers; the first build within the gate is
   kept, otherwise the best one.

A layer kept in float16 still reads its input as its producer stored it: on the producer's
int8 grid. So each ranked layer brings its *float group* (:func:`float_groups`): itself and,
going up the graph, the tensors that feed it back to the nearest convolution (the toolkit
fuses a convolution with its activation, and the convolution's own output is quantized too).
A wide-range activation is then float from the convolution that makes it to the one that
reads it. (nncase's groups come from :func:`~workbench.deployment.quant_errors.int16_groups`
and :func:`~workbench.deployment.kpu_sqnr.kpu_ranking`.)

The driver phases are run by :mod:`workbench.deployment.devices` through the ``simulate``
callable; this module measures, decides and reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.deployment.gate import check as check_gate

#: Ranked layers listed in the report's ``int8.sensitivity``.
REPORTED = 10
#: The figures of a ranked layer the report keeps (those its table has).
REPORTED_FIELDS = ("layer", "op", "kind", "single_cosine", "entire_cosine", "own_drop",
                   "inputs_cosine", "sqnr_db")


@dataclass(frozen=True)
class Int8Goal:
    """What a quantized device export must keep, and what it also measures.

    Attributes:
        max_drop: the most mAP50 points it may lose; ``min_cosine``: the least raw-output
            cosine with FP32 (the gate of :mod:`workbench.deployment.gate`).
        mixed: keep the worst layers in higher precision while the plain INT8 build is
            beyond them.
        sensitivity: write the per-layer error table (``sensitivity.md``) in any case.
        analysis_images: calibration images rknn-toolkit2's per-layer table is averaged
            over (the nncase tables use every calibration image).
        max_layers: at most this many layers in higher precision.
    """

    max_drop: float = 2.0
    min_cosine: float = 0.99
    mixed: bool = True
    sensitivity: bool = False
    analysis_images: int = 4
    max_layers: int = 16


@dataclass
class Build:
    """One simulated build and what it measured.

    Attributes:
        model: the model file; ``float_layers``: the layers kept in higher precision.
        map50: on the validation view; ``fidelity``: raw-output cosine and max abs vs FP32.
        simulator_ms: simulator time per image; ``memory``: the compiler's memory
            summary in bytes per section (nncase), when it prints one.
    """

    model: Path
    map50: float
    fidelity: dict[str, Any]
    simulator_ms: float
    float_layers: list[str] = field(default_factory=list)
    memory: dict[str, int] | None = None

    def gate(self, map50_fp32: float, goal: Int8Goal) -> dict[str, Any]:
        """The export gate's verdict on this build."""
        return check_gate(self.map50, map50_fp32, self.fidelity["cosine"], goal.max_drop,
                          goal.min_cosine)


def float_groups(onnx_path: Path, layers: list[str]) -> dict[str, list[str]]:
    """For each layer (tensor name), the layers to keep in float16 with it.

    The group is the tensor itself and, going up the ONNX graph through the operators that
    produce its inputs, every tensor among ``layers`` met before (and including) the output of
    the nearest convolution on each path. Names the ONNX graph does not have (tensors the
    toolkit adds) form a group of their own.
    """
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    known = set(layers)
    groups = {}
    for layer in layers:
        group = [layer]
        node = producer.get(layer)
        stack = list(node.input) if node is not None else []
        seen = set()
        while stack:
            tensor = stack.pop()
            source = producer.get(tensor)
            if source is None or tensor in seen:  # a graph input or a weight
                continue
            seen.add(tensor)
            if tensor in known and tensor not in group:
                group.append(tensor)
            if source.op_type != "Conv":
                stack.extend(source.input)
        groups[layer] = group
    return groups


def plain_report(plain: Build, map50_fp32: float, method: str,
                 ranking: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``int8`` section of a build kept as plain INT8 (``method``: the target's name
    for it, ``TargetSpec.methods``)."""
    drop = _drop(plain.map50, map50_fp32)
    return {"method": method, "float_layers": [], "steps": [], "drop_before": drop,
            "drop_after": drop, "sensitivity": _reported(ranking or [], {})}


def hybrid_within_budget(plain: Build, ranking: list[dict[str, Any]],
                         groups: dict[str, list[str]],
                         simulate: Callable[[list[str]], Build | None], map50_fp32: float,
                         goal: Int8Goal, method: str) -> tuple[Build, dict[str, Any]]:
    """Keep the worst layers in higher precision, 1, 2, 4 … at a time, until the gate passes.

    Args:
        plain: the plain INT8 build (beyond the gate).
        ranking: the per-layer table, worst first (:func:`~workbench.deployment.layer_errors.
            worst_first`); ``groups``: each layer's float group (:func:`float_groups`).
        simulate: builds with these layers in higher precision, simulates and measures;
            None when that build does not fit the device (the search stops there).
        map50_fp32: the FP32 model's mAP50 on the same view; ``goal``: the gate and the cap.
        method: the report's ``method`` (the target's name for such a build).

    Returns:
        ``(chosen, report)``: the first build within the gate, else the best (the plain one
        when nothing did better); ``report`` holds ``method``, ``float_layers``, ``steps``
        (per build: ``float_layers`` (count), ``layers``, ``map50``, ``drop_points``,
        ``cosine``, ``passed``; or ``float_layers``, ``layers`` and ``fits: false``),
        ``drop_before``, ``drop_after``, ``sensitivity`` (the :data:`REPORTED` worst layers
        with their groups) and ``seconds``.
    """
    start = time.perf_counter()
    chosen = plain
    steps: list[dict[str, Any]] = []
    tried: set[tuple[str, ...]] = set()
    k = 1
    while k <= len(ranking):
        layers = list(dict.fromkeys(n for row in ranking[:k] for n in groups[row["layer"]]))
        if len(layers) > goal.max_layers:
            break
        k *= 2
        if tuple(layers) in tried:  # the next rows were already in earlier groups
            continue
        tried.add(tuple(layers))
        build = simulate(layers)
        if build is None:
            steps.append({"float_layers": len(layers), "layers": layers, "fits": False})
            break
        gate = build.gate(map50_fp32, goal)
        steps.append({"float_layers": len(build.float_layers), "layers": build.float_layers,
                      "map50": build.map50, "drop_points": _drop(build.map50, map50_fp32),
                      "cosine": build.fidelity["cosine"], "passed": gate["passed"]})
        if gate["passed"]:
            chosen = build
            break
        if (build.map50, build.fidelity["cosine"]) > (chosen.map50,
                                                       chosen.fidelity["cosine"]):
            chosen = build
    return chosen, {"method": method, "float_layers": chosen.float_layers,
                    "steps": steps, "drop_before": _drop(plain.map50, map50_fp32),
                    "drop_after": _drop(chosen.map50, map50_fp32),
                    "sensitivity": _reported(ranking, groups),
                    "seconds": round(time.perf_counter() - start, 1)}


def _drop(map50: float, map50_fp32: float) -> float:
    return round((map50_fp32 - map50) * 100, 2)


def _reported(ranking: list[dict[str, Any]], groups: dict[str, list[str]]
              ) -> list[dict[str, Any]]:
    return [{**{k: r[k] for k in REPORTED_FIELDS if k in r},
             **({"group": groups[r["layer"]]} if r["layer"] in groups else {})}
            for r in ranking[:REPORTED]]
