"""Training throughput and accuracy on ``datasets/aquarium-mini``, against plain Ultralytics.

In one run, on this machine's CPU:

* ``workbench train`` (view export as links, offline Ultralytics training, per-epoch records in
  the store) for a fixed budget of epochs at 320 px with the default model;
* Ultralytics' own ``YOLO(model).train(data=datasets/aquarium-mini/data.yaml)`` with the same
  settings, as the baseline.

Prints training images/s for both, their ratio (workbench's overhead), and the mAP50 both reach
on the validation split after the budget, so later changes can be compared.

    .venv/bin/python benchmarks/bench_train.py [--epochs 3] [--imgsz 320] [--model yolov8n.yaml]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import workbench as wb
    from workbench.store import mongod
    from workbench.training.runner import TrainConfig, train
    from workbench.training.weights import offline_environment

    offline_environment()
    from ultralytics import YOLO

    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        ws = wb.init_workspace(tmp / "ws", name=f"bench-{uuid.uuid4().hex[:8]}")
        wb.ingest(ws, DEMO, "yolo")
        n_train = len(ws.dataset.match({"split": "train"}))

        t0 = time.perf_counter()
        ours = train(ws, TrainConfig(model=args.model, imgsz=args.imgsz, epochs=args.epochs,
                                     batch=args.batch, patience=0, run="bench"))
        t_ours = time.perf_counter() - t0

        t0 = time.perf_counter()
        base = YOLO(args.model).train(data=str(DEMO / "data.yaml"), epochs=args.epochs,
                                      imgsz=args.imgsz, batch=args.batch, patience=0,
                                      device="cpu", project=str(tmp / "ultra"), name="bench",
                                      plots=False, workers=2, seed=0, verbose=False)
        t_base = time.perf_counter() - t0
        base_map50 = float(base.results_dict["metrics/mAP50(B)"])

        figures = {
            "model": args.model, "imgsz": args.imgsz, "epochs": args.epochs,
            "train_images": n_train,
            "workbench_seconds": round(t_ours, 1),
            "workbench_images_per_s": round(n_train * args.epochs / t_ours, 2),
            "workbench_map50": round(ours.map50, 4),
            "ultralytics_seconds": round(t_base, 1),
            "ultralytics_images_per_s": round(n_train * args.epochs / t_base, 2),
            "ultralytics_map50": round(base_map50, 4),
            "time_ratio": round(t_ours / t_base, 3),
        }
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"{args.model} at {args.imgsz} px, {args.epochs} epochs on {n_train} train "
                  "images (val: 127), CPU")
            print(f"workbench train:        {t_ours:7.1f} s  "
                  f"{figures['workbench_images_per_s']:6.2f} images/s  mAP50 {ours.map50:.4f}")
            print(f"ultralytics .train():   {t_base:7.1f} s  "
                  f"{figures['ultralytics_images_per_s']:6.2f} images/s  mAP50 {base_map50:.4f}")
            print(f"workbench / ultralytics time: {figures['time_ratio']:.3f}")
        mongod.stop(tmp / "ws" / ".fiftyone-db")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
