"""Pool inference: ``workbench predict --backend onnxruntime`` (store writes included) against
Ultralytics' own ``model.predict`` on the same images at the same input size and confidence.

Target (issue 20): >= 2x Ultralytics' images/s at the product's default ``--conf 0.01`` and at
0.1, at 224 and 640 px, measured in the same run. The ONNX export is done once per size before
timing (it is cached per weights file and size, as in normal use); both sides get a warm-up.

    .venv/bin/python benchmarks/bench_predict.py [--images 300] [--imgsz 224,640]
        [--conf 0.01,0.1] [--model PT] [--json]
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


def _floats(text: str) -> list[float]:
    return [float(t) for t in text.split(",") if t.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--imgsz", default="224,640", help="sizes, comma-separated")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--conf", default="0.01,0.1", help="thresholds, comma-separated")
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
    rows = []
    try:
        pool = tmp / "pool"
        pool.mkdir()
        images = sorted(DEMO.glob("*/images/*.jpg"))[:args.images]
        for p in images:
            shutil.copy(p, pool / p.name)
        wb.ingest(ws, pool, "images")
        names = YOLO(args.model).names
        ws.add_classes([names[i] for i in range(len(names))])
        paths = [str(pool / p.name) for p in images]
        model = YOLO(args.model)
        for imgsz in (int(v) for v in _floats(args.imgsz)):
            make_predictor(ws, args.model, "onnxruntime", imgsz, args.batch)  # export once
            model.predict(paths[:2], imgsz=imgsz, verbose=False)  # warm-up, like our export
            for conf in _floats(args.conf):
                run = f"bench-{imgsz}-{str(conf).replace('.', '')}"
                t0 = time.perf_counter()
                ours = predict(ws, args.model, run=run, backend="onnxruntime", imgsz=imgsz,
                               batch=args.batch, conf=conf)
                t_ours = time.perf_counter() - t0
                t0 = time.perf_counter()
                n = 0
                for start in range(0, len(paths), args.batch):
                    n += len(model.predict(paths[start:start + args.batch], imgsz=imgsz,
                                           conf=conf, iou=0.7, verbose=False,
                                           batch=args.batch))
                t_base = time.perf_counter() - t0
                assert n == len(paths) == ours.samples
                rows.append({"imgsz": imgsz, "conf": conf, "images": len(paths),
                             "batch": args.batch,
                             "workbench_images_per_s": round(len(paths) / t_ours, 2),
                             "ultralytics_images_per_s": round(len(paths) / t_base, 2),
                             "speedup": round(t_base / t_ours, 2), "target_speedup": 2.0,
                             "boxes_per_image": round(ours.boxes / len(paths), 1)})
                if not args.json:
                    r = rows[-1]
                    print(f"{imgsz:4d} px conf {conf:<5}: workbench "
                          f"{r['workbench_images_per_s']:6.1f}  ultralytics "
                          f"{r['ultralytics_images_per_s']:6.1f} images/s  {r['speedup']:.2f}x "
                          f"(target >= 2x)  {r['boxes_per_image']} boxes/image", flush=True)
        if args.json:
            json.dump({"model": args.model, "rows": rows}, sys.stdout, indent=2)
            print()
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    main()
