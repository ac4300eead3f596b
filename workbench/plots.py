"""Matplotlib figures written as PNG (Agg backend, no fonts or network needed)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(results_csv: Path, out: Path) -> Path:
    """Loss and mAP per epoch from Ultralytics' ``results.csv``; returns ``out``."""
    with results_csv.open() as fh:
        rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(fh)]
    plt = _pyplot()
    epochs = [float(r["epoch"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss",
                "val/cls_loss", "val/dfl_loss"):
        if rows and key in rows[0]:
            axes[0].plot(epochs, [float(r[key]) for r in rows], label=key,
                         linestyle="--" if key.startswith("val") else "-")
    axes[0].set(title="losses", xlabel="epoch")
    axes[0].legend(fontsize=7)
    for key, name in (("metrics/mAP50(B)", "mAP50"), ("metrics/mAP50-95(B)", "mAP50-95")):
        if rows and key in rows[0]:
            axes[1].plot(epochs, [float(r[key]) for r in rows], marker="o", label=name)
    axes[1].set(title="validation", xlabel="epoch", ylim=(0, 1))
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def pr_curves(recall: np.ndarray, precision: np.ndarray, names: Sequence[str],
              ap: Sequence[float], out: Path, title: str) -> Path:
    """Precision-recall curve per class.

    Args:
        recall: ``(R,)`` recall points; ``precision``: ``(K, R)`` precision per class (-1: none).
        names: ``K`` class names; ``ap``: ``K`` average precisions for the legend.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(names):
        p = precision[k]
        if (p >= 0).any():
            ax.plot(recall, np.where(p >= 0, p, np.nan), label=f"{name} {ap[k]:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def confusion(matrix: np.ndarray, labels: Sequence[str], out: Path, title: str) -> Path:
    """A confusion matrix heatmap (rows: ground truth, columns: predicted)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(labels), 1 + 0.55 * len(labels)))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7)
    ax.set(xlabel="predicted", ylabel="ground truth", title=title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def tradeoff(points: Sequence[dict[str, Any]], x: str, y: str, label: str, out: Path,
             title: str) -> Path:
    """Scatter of ``y`` against ``x`` with each point labeled by ``label``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = [p[x] for p in points]
    ys = [p[y] for p in points]
    ax.plot(xs, ys, marker="o")
    for p in points:
        ax.annotate(str(p[label]), (p[x], p[y]), textcoords="offset points", xytext=(5, 5))
    ax.set(xlabel=x, ylabel=y, title=title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


#: The x axes of :func:`learning_curves`: point key -> axis label.
LABEL_AXES = {"labeled_images": "labeled images", "labeled_boxes": "labeled boxes"}


def learning_curves(curves: dict[str, dict[str, list[dict[str, Any]]]], out: Path,
                    metrics: Sequence[str] = ("map50", "map50_95"),
                    axes: Sequence[str] = tuple(LABEL_AXES)) -> Path:
    """Active-learning curves: mean ± std over seeds of each metric (a row each) against
    labeled images and against labeled boxes (a column each).

    The band is the metric's std over seeds; on an axis whose count differs between seeds
    (boxes), the point sits at the mean count with a horizontal bar of its std.

    Args:
        curves: strategy -> seed -> per-round points (the ``axes`` counts and the metrics).
        out: the PNG to write.
        metrics: point keys to plot, one row each.
        axes: point keys of the label counts, one column each (:data:`LABEL_AXES`).
    """
    from workbench.core.curves import mean_std

    plt = _pyplot()
    fig, grid = plt.subplots(len(metrics), len(axes), figsize=(5.5 * len(axes),
                                                               4 * len(metrics)), squeeze=False)
    for row, metric in zip(grid, metrics, strict=True):
        for ax, axis in zip(row, axes, strict=True):
            for strategy, by_seed in curves.items():
                runs = [points for points in by_seed.values() if points]
                if not runs or any(axis not in p for pts in runs for p in pts):
                    continue
                x, xsd = mean_std([[p[axis] for p in pts] for pts in runs])
                y, sd = mean_std([[p[metric] for p in pts] for pts in runs])
                style = "--" if strategy == "random" else "-"
                line = ax.errorbar(x, y, xerr=xsd if xsd.any() else None, fmt=style,
                                   marker="o", capsize=3, label=f"{strategy} (n={len(runs)})")
                ax.fill_between(x, y - sd, y + sd, alpha=0.2, color=line.lines[0].get_color())
            label = LABEL_AXES.get(axis, axis)
            ax.set(xlabel=label, ylabel=metric,
                   title=f"{metric} by {label} (mean ± std over seeds)")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def tradeoff_bubbles(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Accuracy against latency, bubble area by file size, one labeled point per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    sizes = np.array([r["size_mb"] for r in rows], dtype=float)
    area = 80 + 900 * sizes / max(float(sizes.max()), 1e-9)
    ax.scatter([r["latency_p50_ms"] for r in rows], [r["map50"] for r in rows], s=area,
               alpha=0.5, c=["tab:green" if r.get("pareto") else "tab:blue" for r in rows])
    for r in rows:
        ax.annotate(f"{r['model']}\n{r['size_mb']:.1f} MB", (r["latency_p50_ms"], r["map50"]),
                    textcoords="offset points", xytext=(8, 4), fontsize=8)
    ax.set(xlabel="latency p50 (ms, 1 image, 1 thread)", ylabel="mAP50",
           title="accuracy vs latency (bubble: file size; green: Pareto-optimal)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def mining_iterations(rows: Sequence[dict[str, Any]], out: Path, title: str) -> Path:
    """Hard-negative mining passes: false positives per image, mAP50 and per-class recall
    (one panel each) against the pass number; bars of negatives added under the first."""
    plt = _pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.2))
    x = [r["iteration"] for r in rows]
    a.plot(x, [r["fp_per_image"] for r in rows], marker="o", color="tab:red")
    a.set(xlabel="pass", ylabel="false positives per image", title="false positives")
    twin = a.twinx()
    twin.bar(x, [r.get("negatives_added", 0) for r in rows], alpha=0.25, color="tab:gray")
    twin.set_ylabel("negatives added (bars)")
    b.plot(x, [r["map50"] for r in rows], marker="o")
    b.set(xlabel="pass", ylabel="mAP50", title="mAP50")
    for name in (rows[0].get("recall") or {}) if rows else {}:
        values = [(r.get("recall") or {}).get(name) for r in rows]
        c.plot(x, [np.nan if v is None else v for v in values], marker="o", label=name)
    c.set(xlabel="pass", ylabel="recall", title="recall per class", ylim=(0, 1.02))
    if rows and rows[0].get("recall"):
        c.legend(fontsize=8)
    for ax in (a, b, c):
        ax.grid(alpha=0.3)
        ax.set_xticks(x)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def reliability_diagram(curves: Mapping[str, Mapping[str, np.ndarray]], out: Path,
                        title: str) -> Path:
    """Reliability diagram: precision against mean confidence per bin, one line per label
    (e.g. "before", "after temperature"), the diagonal of perfect calibration, and the boxes
    per bin as light bars in a lower panel.

    Args:
        curves: label -> :func:`workbench.core.calibration.reliability` output (``edges (B+1,)``,
            ``mean_conf (B,)``, ``precision (B,)`` with NaN where a bin is empty, ``count (B,)``).
        out: the PNG to write.
        title: the figure title.
    """
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": (3, 1)})
    top.plot([0, 1], [0, 1], linestyle="--", color="tab:gray", label="perfectly calibrated")
    n = max(len(curves), 1)
    for i, (label, curve) in enumerate(curves.items()):
        conf = np.asarray(curve["mean_conf"], dtype=float)
        precision = np.asarray(curve["precision"], dtype=float)
        shown = ~(np.isnan(conf) | np.isnan(precision))
        line = top.plot(conf[shown], precision[shown], marker="o", label=label)
        edges = np.asarray(curve["edges"], dtype=float)
        width = np.diff(edges) / n
        bottom.bar(edges[:-1] + i * width, np.asarray(curve["count"], dtype=float), width=width,
                   align="edge", alpha=0.35, color=line[0].get_color(), label=label)
    top.set(ylabel="precision (fraction true positive)", xlim=(0, 1), ylim=(0, 1.02),
            title=title)
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    bottom.set(xlabel="confidence", ylabel="boxes")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
