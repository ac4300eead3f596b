"""``workbench train --sizes 224,320,416``: one model per input size and a trade-off report.

Each size is trained with the same settings; each best checkpoint is then measured in a fresh
process on validation images: CPU latency per image (median, batch 1, after warm-up) and peak
resident memory. Efficiency score (stated in the report): ``mAP50 * sqrt(fastest latency /
latency)`` — accuracy, discounted by the square root of how much slower than the fastest size.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.view_data import view_filepaths
from workbench.store.workspace import Workspace
from workbench.training.config import SweepConfig, SweepResult, TrainConfig, parse_sizes
from workbench.training.runner import EpochCallback, train

__all__ = ["SCORE_FORMULA", "efficiency", "measure", "parse_sizes", "run_sweep", "sweep"]

SCORE_FORMULA = "score = mAP50 * sqrt(min_latency / latency)"


def efficiency(map50: Sequence[float], latency_ms: Sequence[float]) -> np.ndarray:
    """The score of :data:`SCORE_FORMULA` for ``(S,)`` accuracies and latencies."""
    lat = np.asarray(latency_ms, dtype=np.float64)
    return np.asarray(map50, dtype=np.float64) * np.sqrt(lat.min() / lat)


def measure(weights: str, imgsz: int, images: list[str], repeats: int = 1) -> dict[str, float]:
    """Latency and peak memory of CPU inference, measured in a fresh Python process."""
    payload = json.dumps({"weights": weights, "imgsz": imgsz, "images": images,
                          "repeats": repeats})
    proc = subprocess.run([sys.executable, "-m", "workbench.training.sweep"], input=payload,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise WorkbenchError(f"measuring {weights} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _measure_here(spec: dict[str, Any]) -> dict[str, float]:
    from workbench.training.weights import offline_environment

    offline_environment()
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = YOLO(spec["weights"])
    images = spec["images"]
    for path in images[:3]:  # warm-up
        model.predict(path, imgsz=spec["imgsz"], device="cpu", verbose=False)
    times = []
    for _ in range(int(spec.get("repeats", 1))):
        for path in images:
            t0 = time.perf_counter()
            model.predict(path, imgsz=spec["imgsz"], device="cpu", verbose=False)
            times.append((time.perf_counter() - t0) * 1000)
    net: Any = model.model
    params = sum(p.numel() for p in net.parameters())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"latency_ms_p50": float(np.median(times)), "latency_ms_p95":
            float(np.percentile(times, 95)), "params": int(params),
            "peak_rss_mb": round(peak_kb / 1024, 1)}


def sweep(ws: Workspace, config: TrainConfig, sizes: list[int],
          on_epoch: EpochCallback | None = None,
          latency_images: int = SweepConfig.latency_images) -> dict[str, Any]:
    """:func:`run_sweep` with positional options; returns the report dict."""
    return run_sweep(ws, SweepConfig(config, list(sizes), latency_images),
                     on_epoch=on_epoch).to_dict()


def run_sweep(ws: Workspace, cfg: SweepConfig,
              on_epoch: EpochCallback | None = None) -> SweepResult:
    """Train one model per size and write the trade-off report (JSON, Markdown, PNG)."""
    config, sizes = cfg.train, cfg.sizes
    base = config.run or runs.new_run_id("sweep")
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    images = view_filepaths(ws, config.val)[:cfg.latency_images]
    rows: list[dict[str, Any]] = []
    for size in sizes:
        result = train(ws, replace(config, imgsz=size, run=f"{base}-{size}"), on_epoch=on_epoch)
        m = measure(result.weights, size, images)
        rows.append({"imgsz": size, "run": result.run, "map50": result.map50,
                     "map50_95": result.map50_95, **m,
                     "model_bytes": Path(result.weights).stat().st_size,
                     "epochs": result.epochs})
    scores = efficiency([r["map50"] for r in rows], [r["latency_ms_p50"] for r in rows])
    for r, s in zip(rows, scores, strict=True):
        r["score"] = round(float(s), 6)
    best = rows[int(np.argmax(scores))]
    out_dir = ws.root / "runs" / "sweeps" / base
    out_dir.mkdir(parents=True, exist_ok=True)
    from workbench import plots

    plot = plots.tradeoff(rows, "latency_ms_p50", "map50", "imgsz", out_dir / "tradeoff.png",
                          f"input size trade-off ({config.model}); best: {best['imgsz']}")
    sweep_result = SweepResult(sweep=base, model=config.model, score_formula=SCORE_FORMULA,
                         sizes=rows, best=best, latency_images=len(images), plot=str(plot),
                         markdown=str(out_dir / "report.md"),
                         json=str(out_dir / "report.json"),
                         seconds=round(time.perf_counter() - started, 1))
    report = sweep_result.to_dict()
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(_markdown(report))
    runs.record_run(ws, RunKind.SWEEP, base, {"sizes": sizes, "model": config.model},
                    {k: v for k, v in report.items() if k != "sizes"} | {"rows": rows},
                    started_at)
    return sweep_result


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# Input-size trade-off: {report['model']}", "",
             f"Latency: median CPU ms per image over {report['latency_images']} validation "
             "images (batch 1, fresh process). Efficiency: `" + report["score_formula"] + "`.",
             "", "| imgsz | mAP50 | mAP50-95 | latency p50 (ms) | latency p95 (ms) | params | "
             "model size (MB) | peak RSS (MB) | score |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["sizes"]:
        lines.append(f"| {r['imgsz']} | {r['map50']:.3f} | {r['map50_95']:.3f} | "
                     f"{r['latency_ms_p50']:.1f} | {r['latency_ms_p95']:.1f} | {r['params']:,} | "
                     f"{r['model_bytes'] / 1e6:.2f} | {r['peak_rss_mb']:.0f} | {r['score']:.4f} |")
    lines += ["", f"Best by efficiency: **{report['best']['imgsz']}** "
              f"(run `{report['best']['run']}`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(_measure_here(json.loads(sys.stdin.read()))))
