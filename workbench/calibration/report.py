"""The Markdown report of a calibration (the App shows it after ``wb_calibrate`` and from a
stored calibration run), with the reliability diagram inline."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any


def num(value: Any) -> str:
    """A score as four decimals, ``-`` when there is none (shared by the CLI table)."""
    return "-" if value is None else f"{float(value):.4f}"


def markdown(result: dict[str, Any], with_plot: bool = True) -> str:
    """A calibration result (:class:`CalibrateResult` as a dict) as Markdown.

    The reliability diagram is embedded as a data URI when its file exists.
    """
    lines = [f"**Calibration {result['name']}** of run `{result['run']}` on `{result['view']}` "
             f"(fitted on {result['images']['fit']} images, measured on the other "
             f"{result['images']['held_out']}; {result['boxes']['held_out']} boxes)", "",
             "| map | D-ECE | Brier |", "|---|---:|---:|",
             f"| raw | {num(result['before']['dece'])} | {num(result['before']['brier'])} |"]
    for method, scores in result["methods"].items():
        mark = " (stored)" if method == result["method"] else ""
        lines.append(f"| {method}{mark} | {num(scores['dece'])} | {num(scores['brier'])} |")
    if result.get("thresholds"):
        lines += ["", f"**Operating thresholds** ({result['thresholds_rule']}; written into "
                  "deploy.yaml by `workbench export`)", "", "| class | threshold | rule met |",
                  "|---|---:|:---:|"]
        met = result.get("thresholds_met") or {}
        lines += [f"| {name} | {value:.3f} | {'yes' if met.get(name) else 'no'} |"
                  for name, value in result["thresholds"].items()]
    for warning in result.get("warnings") or []:
        lines += ["", f"> {warning}"]
    plot = result.get("plot")
    if with_plot and plot and Path(plot).is_file():
        data = base64.b64encode(Path(plot).read_bytes()).decode("ascii")
        lines += ["", f"![reliability diagram](data:image/png;base64,{data})"]
    return "\n".join(lines)
