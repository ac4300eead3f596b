"""nncase 2.x's per-tensor error table (``quant_error.csv``), ranked by each tensor's own loss.

With ``dump_quant_error`` nncase compares the quantized graph with float on the calibration
data and writes, for each quantized tensor (activations by their ONNX tensor name, weights by
their ONNX initializer name), the cosine with float *accumulated* from the input. There is no
single-layer column, so a tensor's own loss is read from the graph: the drop from the lowest
accumulated cosine among the listed tensors it is computed from to its own
(:func:`worst_first`).

A tensor kept in int16 is only worth it with what produces it: its group
(:func:`int16_groups`) is the tensor, the weights of the convolution that writes it and that
convolution's input tensor (a tensor in int16 whose writer still reads an int8 input, or
multiplies int8 weights, keeps most of the loss).

:func:`parse_quant_error` reads the file and :func:`write_markdown` writes
``sensitivity.md``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from workbench.errors import ToolchainError


def parse_quant_error(text: str) -> dict[str, float]:
    """``quant_error.csv`` (``name, cosine_error, mre_error``) as tensor -> accumulated cosine.

    Raises:
        ToolchainError: no row could be read (another nncase version's layout).
    """
    cosines = {}
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if len(row) != 3 or row[0] == "name":
            continue
        try:
            cosines[row[0]] = float(row[1])
        except ValueError:
            continue
    if not cosines:
        raise ToolchainError("nncase's quant_error.csv has no rows in the expected layout "
                             "(name, cosine_error, mre_error)")
    return cosines


def _graph(onnx_path: Path) -> tuple[dict[str, Any], set[str]]:
    """ONNX tensor -> the node writing it, and the initializer names."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return ({out: node for node in graph.node for out in node.output},
            {init.name for init in graph.initializer})


def _sources(tensor: str, cosines: dict[str, float], producer: dict[str, Any],
             weights: set[str]) -> list[str]:
    """The listed (or graph input) tensors ``tensor`` is computed from, through the unlisted
    tensors between."""
    found: list[str] = []
    stack, seen = list(producer[tensor].input), set()
    while stack:
        name = stack.pop()
        if not name or name in seen or name in weights:
            continue
        seen.add(name)
        if name in cosines or name not in producer:
            found.append(name)
        else:
            stack.extend(producer[name].input)
    return found


def worst_first(cosines: dict[str, float], onnx_path: Path) -> list[dict[str, Any]]:
    """The activation tensors by their own loss, worst first.

    Returns:
        ``[{"layer", "op", "own_drop", "entire_cosine", "inputs_cosine"}]``: ``op`` the ONNX
        operator writing the tensor, ``entire_cosine`` its accumulated cosine,
        ``inputs_cosine`` the lowest among its inputs (1 for the model input) and
        ``own_drop`` the difference. Weights and tensors the ONNX graph does not write are
        left out.
    """
    producer, weights = _graph(onnx_path)
    rows = []
    for position, (tensor, cosine) in enumerate(cosines.items()):
        if tensor not in producer:
            continue
        inputs = [cosines.get(t, 1.0) for t in _sources(tensor, cosines, producer, weights)]
        base = min(inputs, default=1.0)
        rows.append({"layer": tensor, "op": producer[tensor].op_type,
                     "own_drop": round(base - cosine, 6), "entire_cosine": cosine,
                     "inputs_cosine": base, "position": position})
    return sorted(rows, key=lambda r: (-r["own_drop"], r["position"]))


def int16_groups(onnx_path: Path, layers: list[str], listed: set[str]
                 ) -> dict[str, list[str]]:
    """For each tensor, the tensors to put in int16 with it: itself, the weights of the
    convolutions that write it (through unlisted tensors, e.g. a fused activation's input)
    and the listed tensors those convolutions read. Only names in ``listed`` (the scheme's)
    are included besides the tensor itself."""
    producer, weights = _graph(onnx_path)
    groups = {}
    for layer in layers:
        group = [layer]
        stack, seen = [layer], set()
        while stack:
            node = producer.get(stack.pop())
            if node is None:
                continue
            if node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in listed:
                group.append(node.input[1])
            for name in node.input:
                if not name or name in seen or name in weights:
                    continue
                seen.add(name)
                if name in listed:
                    group.append(name)
                else:
                    stack.append(name)
        groups[layer] = list(dict.fromkeys(group))
    return groups


def write_markdown(rows: list[dict[str, Any]], path: Path, images: int) -> Path:
    """``sensitivity.md``: every activation tensor, largest own loss first."""
    lines = [f"# K230 INT8 error per tensor (nncase quant_error, quantized vs float on "
             f"{images} calibration images)", "",
             "*entire*: the cosine with float accumulated from the input; *own drop*: how "
             "much this tensor lowers it from the worst of its inputs. Cosine 1 is exact.",
             "", "| tensor | op | own drop | entire cosine | inputs' cosine |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['layer']}` | {r['op']} | {r['own_drop']:.5f} | "
                     f"{r['entire_cosine']:.5f} | {r['inputs_cosine']:.5f} |")
    path.write_text("\n".join(lines) + "\n")
    return path
