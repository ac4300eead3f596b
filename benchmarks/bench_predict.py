"""Pool inference: ``workbench predict --backend onnxruntime`` (store writes included) against
Ultralytics' own ``model.predict`` on the same images at the same input size.

Target (issue 4): >= 1.3x Ultralytics' images/s. The ONNX export is done once before timing
(it is cached per weights file, as in normal use).

    .venv/bin/python benchmarks/bench_predict.py [--images 300] [--imgsz 224] [--model PT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"
CHECKPOINT = DEMO / "weights" / "yolov8n-224.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--imgsz", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--conf", type=float, default=0.01)
    parser.add_argument("--model", default=str(CHECKPOINT))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).parent))
    from _pool import cleanup, make_workspace

    import workbench as wb
    from workbench.prediction.predict import make_predictor, predict
    from workbench.training.weights import offline_environment

    offline_environment()
    from ultralytics import YOLO

    ws, tmp = make_workspace([])
    try:
        pool = tmp / "pool"
        pool.mkdir()
        images = sorted(DEMO.glob("*/images/*.jpg"))[:args.images]
        for p in images:
            shutil.copy(p, pool / p.name)
        wb.ingest(ws, pool, "images")
        names = YOLO(args.model).names
        ws.add_classes([names[i] for i in range(len(names))])
        make_predictor(ws, args.model, "onnxruntime", args.imgsz, args.batch)  # export once

        t0 = time.perf_counter()
        ours = predict(ws, args.model, run="bench", backend="onnxruntime", imgsz=args.imgsz,
                       batch=args.batch, conf=args.conf)
        t_ours = time.perf_counter() - t0

        model = YOLO(args.model)
        paths = [str(pool / p.name) for p in images]
        model.predict(paths[:2], imgsz=args.imgsz, verbose=False)  # warm-up, like our export
        t0 = time.perf_counter()
        n = 0
        for start in range(0, len(paths), args.batch):
            n += len(model.predict(paths[start:start + args.batch], imgsz=args.imgsz,
                                   conf=args.conf, iou=0.7, verbose=False,
                                   batch=args.batch))
        t_base = time.perf_counter() - t0
        assert n == len(paths) == ours.samples

        figures = {"images": len(paths), "imgsz": args.imgsz, "batch": args.batch,
                   "model": args.model,
                   "workbench_images_per_s": round(len(paths) / t_ours, 2),
                   "ultralytics_images_per_s": round(len(paths) / t_base, 2),
                   "speedup": round(t_base / t_ours, 2), "target_speedup": 1.3,
                   "workbench_boxes": ours.boxes}
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"{len(paths)} demo images at {args.imgsz} px, batch {args.batch}, conf "
                  f"{args.conf}, CPU")
            print(f"workbench predict (onnxruntime, writes incl.): {t_ours:6.2f} s "
                  f"{figures['workbench_images_per_s']:7.1f} images/s")
            print(f"ultralytics model.predict:                     {t_base:6.2f} s "
                  f"{figures['ultralytics_images_per_s']:7.1f} images/s")
            print(f"speedup: {figures['speedup']:.2f}x  (target >= 1.3x)")
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    main()
