"""``workbench benchmark``: accuracy, speed, memory and size of exported models, side by side.

For every export folder (or ``.onnx`` file): mAP50 on a view (the same numpy decode and
matching for all), host latency p50/p95 and FPS of the forward pass alone (one image per call,
one thread, after warm-up), peak resident memory of a fresh process that imports only numpy and
onnxruntime, loads and runs the model, and the file size. Each model is measured in its own
spawned process so that memory figures do not mix. At the deploy thresholds (the per-class
``thresholds`` of the export folder's ``deploy.yaml``; the global 0.25 for a bare model file)
it counts the detections and true positives (IoU 0.5) and reports precision and recall, over
all classes and per class; mAP50 does not depend on them. Writes ``benchmark.json``,
``benchmark.md`` and a trade-off plot.

Models this host cannot run (``.kmodel``, ``.rknn``, TensorRT engines) are listed with the
reason instead of figures.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from workbench.deployment.config import BenchmarkConfig, BenchmarkResult
from workbench.deployment.fidelity import ValSet, map50_of, predict_val
from workbench.deployment.speed import measure
from workbench.deployment.thresholds import counts_at, from_deploy, per_class
from workbench.errors import ConfigError
from workbench.prediction.api import OnnxPredictor, load_batch
from workbench.store import runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

if TYPE_CHECKING:
    from workbench.core.types import Predictions


def resolve_model(path: Path) -> tuple[Path, str]:
    """The model file of an export folder (its ``deploy.yaml``) or the file itself, and a label.

    Raises:
        ConfigError: nothing there, or a folder without ``deploy.yaml``.
    """
    if path.is_dir():
        deploy = path / "deploy.yaml"
        if not deploy.is_file():
            raise ConfigError(f"{path}: not an export folder (no deploy.yaml); pass the folder "
                              "`workbench export` wrote or a model file")
        model = path / str(yaml.safe_load(deploy.read_text())["model"])
        return model, path.name
    if not path.is_file():
        raise ConfigError(f"{path}: no such file or folder")
    return path, path.stem


def deploy_of(model: Path) -> dict[str, Any] | None:
    """The ``deploy.yaml`` of the export folder that holds ``model`` (None: a bare file)."""
    deploy = model.parent / "deploy.yaml"
    if not deploy.is_file():
        return None
    settings = yaml.safe_load(deploy.read_text())
    if not isinstance(settings, dict) or settings.get("model") != model.name:
        return None
    return settings


def _at_deploy(ws: Workspace, model: Path, names: list[str], preds: Predictions,
               val: ValSet) -> dict[str, Any]:
    """The row's figures at the deploy thresholds (:func:`counts_at`) and where the
    thresholds come from."""
    deploy = deploy_of(model)
    if deploy is None:
        thresholds, source = per_class(names, {}), "default"
    else:
        thresholds, source = from_deploy(deploy, names)
    counts = counts_at(preds, names, thresholds, val.image, val.xyxy, val.cls, ws.classes)
    return {"thresholds_source": source, **counts}


def _speed(model: Path, inputs: Path) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=measure, args=(str(model), str(inputs), queue))
    proc.start()
    result = queue.get(timeout=1800)
    proc.join()
    ms = np.asarray(result["times"]) * 1000
    return {"latency_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "latency_p95_ms": round(float(np.percentile(ms, 95)), 3),
            "fps": round(float(1000 / ms.mean()), 2),
            "peak_rss_mb": round(float(result["peak_rss_mb"]), 1),
            "model_rss_mb": None if result["model_rss_mb"] is None
            else round(float(result["model_rss_mb"]), 1)}


def pareto(rows: list[dict[str, Any]]) -> None:
    """Mark rows no other row beats on mAP50, latency and size at once."""
    for r in rows:
        r["pareto"] = "map50" in r and not any(
            o is not r and "map50" in o and o["map50"] >= r["map50"]
            and o["latency_p50_ms"] <= r["latency_p50_ms"] and o["size_mb"] <= r["size_mb"]
            and (o["map50"], -o["latency_p50_ms"], -o["size_mb"])
            != (r["map50"], -r["latency_p50_ms"], -r["size_mb"])
            for o in rows)


def markdown(rows: list[dict[str, Any]], view: str) -> str:
    """The comparison as a Markdown table."""
    lines = [f"Benchmark on `{view}` (latency: forward pass, 1 image, 1 thread)", "",
             "| model | mAP50 | p50 ms | p95 ms | FPS | model RSS MB | size MB | efficiency "
             "| pareto | detections | precision | recall |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "map50" not in r:
            lines.append(f"| {r['model']} | {r['skipped']} | | | | | {r['size_mb']} | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['map50']:.4f} | {r['latency_p50_ms']:.2f} | "
                     f"{r['latency_p95_ms']:.2f} | {r['fps']:.1f} | {r['model_rss_mb']} | "
                     f"{r['size_mb']:.2f} | {r['efficiency']:.3f} | "
                     f"{'yes' if r['pareto'] else ''} | {r['detections']} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} |")
    lines += ["", "detections, precision, recall: at the deploy thresholds (IoU 0.5; the "
              "per-class `thresholds` of each export's deploy.yaml)"]
    return "\n".join(lines) + "\n"


def benchmark(ws: Workspace, paths: list[Path], view: str = BenchmarkConfig.view,
              limit: int | None = None, out: Path | None = None) -> dict[str, Any]:
    """Measure every model (:func:`run_benchmark` with keyword options); returns its dict.

    Args:
        ws: the workspace whose ``view`` provides images and ground truth.
        paths: export folders or model files.
        view: the evaluation view.
        limit: use only the first ``limit`` images of the view.
        out: where the JSON, Markdown and PNG go (default ``WS/runs/benchmark/<id>``).

    Returns:
        ``{"id", "view", "images", "efficiency", "models": [...], "files": {...}}``.
    """
    return run_benchmark(ws, BenchmarkConfig(list(paths), view, limit, out)).to_dict()


def run_benchmark(ws: Workspace, cfg: BenchmarkConfig) -> BenchmarkResult:
    """Measure every model of ``cfg``; see the module docstring.

    Raises:
        ConfigError: an empty view, or a path that is no model or export folder.
    """
    started = dt.datetime.now(dt.UTC)
    bench_id = runs.new_run_id("benchmark")
    folder = cfg.out or ws.root / "runs" / "benchmark" / bench_id
    folder.mkdir(parents=True, exist_ok=True)
    val = ValSet.load(ws, cfg.view, cfg.limit)
    if not val.paths:
        raise ConfigError(f"the view {cfg.view!r} has no labeled images")
    rows: list[dict[str, Any]] = []
    inputs: dict[int, Path] = {}
    for path in cfg.paths:
        model, label = resolve_model(path)
        row: dict[str, Any] = {"model": label, "path": str(model),
                               "size_mb": round(model.stat().st_size / 1e6, 3)}
        if model.suffix != ".onnx":
            row["skipped"] = (f"{model.suffix} runs on its device or vendor simulator, not "
                              "with onnxruntime on this host")
            report = model.parent / "report.json"
            if report.is_file():  # what `workbench export` measured in the simulator
                measured = json.loads(report.read_text())
                row["simulator"] = {k: measured.get(k) for k in (
                    "map50", "map50_fp32", "simulator_ms_per_image", "fits")}
                row["simulator"]["cosine"] = measured.get("fidelity", {}).get("cosine")
                row["skipped"] += (f" (export report: simulator mAP50 "
                                   f"{measured.get('map50')}, cosine "
                                   f"{row['simulator']['cosine']})")
            rows.append(row)
            continue
        predictor = OnnxPredictor(str(model), threads=1)
        preds, _ = predict_val(predictor, val)
        row["map50"] = map50_of(preds, val, len(predictor.names))
        row.update(_at_deploy(ws, model, list(predictor.names), preds, val))
        if predictor.imgsz not in inputs:
            x, _, _ = load_batch(val.paths, predictor.imgsz)
            inputs[predictor.imgsz] = folder / f"inputs-{predictor.imgsz}.npy"
            np.save(inputs[predictor.imgsz], x)
        row.update(_speed(model, inputs[predictor.imgsz]))
        row["efficiency"] = round(row["map50"] * row["fps"], 4)
        rows.append(row)
    for f in inputs.values():
        f.unlink()
    pareto(rows)
    result = BenchmarkResult(id=bench_id, view=cfg.view, images=len(val.paths), models=rows)
    (folder / "benchmark.md").write_text(markdown(rows, cfg.view))
    measured = [r for r in rows if "map50" in r]
    files = {"json": str(folder / "benchmark.json"), "markdown": str(folder / "benchmark.md")}
    if measured:
        from workbench.plots import tradeoff_bubbles

        files["plot"] = str(tradeoff_bubbles(measured, folder / "tradeoff.png"))
    result.files = files
    data = result.to_dict()
    (folder / "benchmark.json").write_text(json.dumps(data, indent=1))
    runs.record_run(ws, RunKind.BENCHMARK, bench_id,
                    {"paths": [str(p) for p in cfg.paths], "view": cfg.view, "limit": cfg.limit},
                    {k: v for k, v in data.items() if k != "id"}, started)
    return result
