"""The vendor simulator's per-layer error table: rknn-toolkit2's ``accuracy_analysis``.

The toolkit runs the quantized model in its simulator next to its own float run of the same
graph and writes ``error_analysis.txt``: for every tensor of the compiled graph the cosine and
euclidean distance to the float value, *entire* (errors accumulated from the input up to this
layer) and *single* (this layer alone, fed the float values of its inputs; the quantization of
those inputs, of its weights and of its output included). The single error names the layers
where accuracy is lost; the entire error shows how far the loss carries.

:func:`parse_error_analysis` reads one file, :func:`average` merges the tables of several
images (the toolkit analyses one sample per call), :func:`worst_first` ranks, and
:func:`write_markdown` writes ``sensitivity.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import ToolchainError

#: ``[Op] name`` then the figures; the toolkit prints 5 decimals and sometimes no space
#: between a long euclidean distance and the next cosine (``1140.361081.00000``).
_ROW = re.compile(r"^\[(?P<op>[^\]]+)\]\s+(?P<name>\S+)\s+(?P<rest>.*)$")
_NUMBER = re.compile(r"-?(?:\d+\.\d{5}|inf|nan)")
FIELDS = ("entire_cosine", "entire_euclidean", "single_cosine", "single_euclidean")


def parse_error_analysis(text: str) -> list[dict[str, Any]]:
    """The simulator columns of an ``error_analysis.txt``, in graph order.

    Returns:
        ``[{"layer", "op", "entire_cosine", "entire_euclidean", "single_cosine",
        "single_euclidean"}]``; ``layer`` is the tensor name the toolkit uses (and its
        hybrid quantization accepts).

    Raises:
        ToolchainError: no row could be read (another toolkit version's layout).
    """
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match is None:
            continue
        numbers = _NUMBER.findall(match["rest"])
        if len(numbers) < len(FIELDS):
            continue
        rows.append({"layer": match["name"], "op": match["op"],
                     **{k: float(v) for k, v in zip(FIELDS, numbers, strict=False)}})
    if not rows:
        raise ToolchainError("rknn-toolkit2's error_analysis.txt has no layer rows in the "
                             "expected layout ([Op] name cos | euc cos | euc)")
    return rows


def average(tables: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per layer, the mean of each figure over the images' tables (graph order kept)."""
    if not tables:
        return []
    merged: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for table in tables:
        for row in table:
            into = merged.setdefault(row["layer"], {"layer": row["layer"], "op": row["op"],
                                                     **dict.fromkeys(FIELDS, 0.0)})
            counts[row["layer"]] = counts.get(row["layer"], 0) + 1
            for key in FIELDS:
                into[key] += row[key]
    out = []
    for position, (layer, row) in enumerate(merged.items()):
        n = counts[layer]
        out.append({**row, **{k: round(row[k] / n, 5) for k in FIELDS},
                    "position": position})
    return out


def worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Layers by their own error, worst first (lowest single cosine, then entire cosine);
    the model input is left out."""
    return sorted((r for r in rows if r["op"] != "Input"),
                  key=lambda r: (r["single_cosine"], r["entire_cosine"], r["position"]))


def write_markdown(rows: list[dict[str, Any]], path: Path, images: int) -> Path:
    """``sensitivity.md``: every layer, worst single-layer cosine first."""
    lines = [f"# RKNN INT8 error per layer (rknn-toolkit2 accuracy_analysis, simulator vs "
             f"float, mean over {images} images)", "",
             "*single*: the layer alone, fed float inputs; *entire*: accumulated from the "
             "input. Cosine 1 is exact.", "",
             "| layer | op | single cosine | single euclidean | entire cosine | "
             "entire euclidean |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['layer']}` | {r['op']} | {r['single_cosine']:.5f} | "
                     f"{r['single_euclidean']:.5f} | {r['entire_cosine']:.5f} | "
                     f"{r['entire_euclidean']:.5f} |")
    path.write_text("\n".join(lines) + "\n")
    return path
