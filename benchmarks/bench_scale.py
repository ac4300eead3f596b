"""Pool inference on Ray: ``workbench predict --engine ray`` (``--task embed``: ``workbench ssl
embed --engine ray``) with 1 and 2 workers against the local engine, same images, same model,
store writes included, measured in the same run.

The ONNX export is done once before timing (it is cached per weights file, as in normal use)
and Ray is started (or joined with ``--address``) before timing too: a long-lived cluster is
what the engine is for. Each Ray figure includes starting its actors and loading one model per
actor, which a bigger pool amortizes. On a GPU machine, ``--backend ultralytics --device 0``
gives each actor one GPU.

``--task embed`` first pretrains a small backbone on the images (one SimCLR epoch at 96 px, not
timed), then times ``ssl embed`` of every image.

    .venv/bin/python benchmarks/bench_scale.py [--task predict|embed] [--images 300]
        [--imgsz 224] [--address auto]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"
CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("predict", "embed"), default="predict")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--imgsz", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--conf", type=float, default=0.01)
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: "
                        "a local Ray started here with every CPU)")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=str(CHECKPOINT))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not args.address:  # a private loopback instance for the run: no token file in ~/.ray
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    sys.path.insert(0, str(Path(__file__).parent))
    import ray
    from _pool import cleanup, make_workspace

    import workbench as wb
    from workbench.prediction.predict import make_predictor, predict
    from workbench.training.weights import offline_environment

    offline_environment()
    ws, tmp = make_workspace([])
    try:
        pool = tmp / "pool"
        pool.mkdir()
        images = sorted(DEMO.glob("*/images/*.jpg"))[:args.images]
        for p in images:
            shutil.copy(p, pool / p.name)
        wb.ingest(ws, pool, "images")
        predictor = make_predictor(ws, args.model, args.backend, args.imgsz, args.batch)
        ws.add_classes(predictor.names)  # and the export, once
        if args.task == "embed":
            from workbench.ssl.api import EmbedConfig, PretrainConfig, embed, pretrain

            pretrain(ws, PretrainConfig(view="all", method="simclr", model="yolov8n.yaml",
                                        imgsz=96, epochs=1, batch=16, run="bench-ssl"))
        if args.address:
            ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
        common: dict[str, Any] = {"backend": args.backend, "imgsz": args.imgsz,
                                  "batch": args.batch, "conf": args.conf,
                                  "calibration": "none", "device": args.device}

        def timed(run: str, **options: Any) -> tuple[float, Any]:
            t0 = time.perf_counter()
            result: Any
            if args.task == "embed":
                result = embed(ws, EmbedConfig(run="bench-ssl", batch=args.batch,
                                               device=args.device, visualization="none",
                                               similarity=False, **options))
            else:
                result = predict(ws, args.model, run=run, **common, **options)
            return time.perf_counter() - t0, result

        t_local, local = timed("local")
        rows = {"local": (t_local, local)}
        for n in (int(w) for w in args.workers.split(",")):
            rows[f"ray-{n}"] = timed(f"ray{n}", engine="ray", workers=n)
        same = {(r.dim, r.embedded) if args.task == "embed" else r.boxes
                for _, r in rows.values()}
        assert len(same) == 1, "engines disagree"
        cpus = int(ray.cluster_resources().get("CPU", 0))
        ray.shutdown()

        n_img = len(images)
        figures: dict[str, Any] = {
            "task": args.task, "images": n_img, "imgsz": args.imgsz, "batch": args.batch,
            "conf": args.conf, "backend": args.backend, "cluster_cpus": cpus,
            "machine_cpus": os.cpu_count(), "boxes": getattr(local, "boxes", None)}
        for name, (seconds, _) in rows.items():
            figures[f"{name}_images_per_s"] = round(n_img / seconds, 2)
            figures[f"{name}_vs_local"] = round(t_local / seconds, 2)
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
            return
        what = ("ssl embed (96 px crops)" if args.task == "embed" else
                f"predict at {args.imgsz} px, conf {args.conf}, {args.backend}")
        print(f"{n_img} demo images, {what}, batch {args.batch}; Ray cluster: {cpus} CPUs "
              f"({os.cpu_count()} on this machine); store writes included")
        for name, (seconds, _) in rows.items():
            print(f"{name:8s} {seconds:6.2f} s {n_img / seconds:7.1f} images/s  "
                  f"{t_local / seconds:5.2f}x local")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cleanup(tmp)


if __name__ == "__main__":
    main()
