"""Prediction writes: workbench's bulk path against FiftyOne's ``set_values`` with objects.

10 boxes per image, each with ``confidence`` and a 7-class ``class_probs`` vector. Target
(issue 4): >= 4,000 samples/s for workbench's path. Both run in one process on one mongod.

    .venv/bin/python benchmarks/bench_predictions.py [--samples 20000] [--baseline 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from _pool import add_pool, cleanup, make_workspace, random_predictions

CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--baseline", type=int, default=3000,
                        help="samples written through the (slow) FiftyOne path")
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import fiftyone as fo

    from workbench.core.boxes import xywhn_to_xyxyn
    from workbench.core.types import Predictions
    from workbench.selection.api import image_scores, indexed_keys
    from workbench.store.predictions import write_predictions

    ws, tmp = make_workspace(CLASSES)
    try:
        ids = add_pool(ws, args.samples)
        p = random_predictions(args.samples, args.boxes, len(CLASSES))
        preds = Predictions(xywhn_to_xyxyn(p["xywh"]), p["confidence"], p["class_id"],
                            p["image_index"], p["probs"])
        t0 = time.perf_counter()
        scores = image_scores(preds, len(ids))  # as predict / predictions import do
        write_predictions(ws, "bench", ids, preds, CLASSES, scores=scores,
                          indexed=indexed_keys(scores))
        t_ours = time.perf_counter() - t0

        n = args.baseline
        view = ws.dataset.select(ids[:n], ordered=True)
        b = args.boxes
        t0 = time.perf_counter()
        values = [fo.Detections(detections=[
            fo.Detection(label=CLASSES[int(p["class_id"][k])], bounding_box=p["xywh"][k].tolist(),
                         confidence=float(p["confidence"][k]),
                         class_probs=p["probs"][k].tolist())
            for k in range(i * b, i * b + b)]) for i in range(n)]
        view.set_values("pred_fiftyone", values)
        t_fo = time.perf_counter() - t0

        figures = {"samples": args.samples, "boxes_per_image": b, "classes": len(CLASSES),
                   "workbench_samples_per_s": round(args.samples / t_ours, 1),
                   "fiftyone_set_values_samples": n,
                   "fiftyone_set_values_samples_per_s": round(n / t_fo, 1),
                   "speedup": round((args.samples / t_ours) / (n / t_fo), 2),
                   "target_samples_per_s": 4000}
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"{b} boxes/image with {len(CLASSES)}-class class_probs")
            print(f"workbench write_predictions:       {args.samples:6d} samples "
                  f"{t_ours:7.2f} s  {figures['workbench_samples_per_s']:8.1f} samples/s "
                  "(target >= 4000)")
            print(f"fiftyone set_values(fo.Detections): {n:6d} samples {t_fo:7.2f} s  "
                  f"{figures['fiftyone_set_values_samples_per_s']:8.1f} samples/s")
            print(f"speedup: {figures['speedup']:.1f}x")
        assert np.isfinite(t_ours)
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    main()
