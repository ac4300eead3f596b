"""``select --uncertain 2000 --strategy entropy`` on a large pool, against the idiomatic
FiftyOne path.

Builds a pool of N images with B predicted boxes each (C-class ``class_probs``) through
``workbench predictions import``, then times, in one run:

* workbench's selection inside the process (target <= 0.5 s) and as a whole CLI run
  (``workbench select ...`` in a new process, target <= 10 s);
* the idiomatic FiftyOne path: ``values()`` of the per-box class vectors, numpy entropy and
  per-image max, ``select(ids).tag_samples()`` (target: workbench >= 5x faster).

    .venv/bin/python benchmarks/bench_select.py --pool 100000 --boxes 10 [--classes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _pool import add_pool, cleanup, make_workspace, random_predictions, write_jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--select", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from workbench.core.scoring import entropy
    from workbench.prediction.imported import import_predictions
    from workbench.selection.select import SelectConfig, select

    classes = [f"class{i}" for i in range(args.classes)]
    ws, tmp = make_workspace(classes)
    try:
        add_pool(ws, args.pool)
        filepaths = [f"/bench/pool/{i:07d}.jpg" for i in range(args.pool)]
        preds = random_predictions(args.pool, args.boxes, args.classes)
        jsonl = tmp / "preds.jsonl"
        write_jsonl(jsonl, filepaths, preds, classes)
        t0 = time.perf_counter()
        imported = import_predictions(ws, jsonl, "pool-preds")
        t_import = time.perf_counter() - t0

        t0 = time.perf_counter()
        ours = select(ws, SelectConfig(n=args.select, strategy="entropy", round="inproc"))
        t_ours = time.perf_counter() - t0

        env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "workbench", "select", "--uncertain",
                               str(args.select), "--strategy", "entropy", "--round", "cli",
                               "-w", str(tmp / "ws"), "--json"], capture_output=True, text=True,
                              env=env, check=True)
        t_cli = time.perf_counter() - t0
        assert json.loads(proc.stdout)["selected"] == args.select

        # The idiomatic FiftyOne path, on the images still unlabeled.
        ds = ws.dataset
        t0 = time.perf_counter()
        view = ds.match({"status": "unlabeled", "split": "pool"})
        ids, probs = view.values(["id", "pred_pool_preds.detections.class_probs"])
        counts = np.array([len(p) for p in probs])
        flat = np.array([v for per_image in probs for v in per_image], dtype=np.float64)
        per_box = entropy(flat)
        image = np.repeat(np.arange(len(ids)), counts)
        per_image = np.full(len(ids), 1.0)
        np.maximum.at(per_image, image, per_box) if len(image) else None
        top = np.argsort(-per_image)[:args.select]
        ds.select([ids[i] for i in top]).tag_samples("baseline")
        t_fo = time.perf_counter() - t0

        figures = {
            "pool": args.pool, "boxes_per_image": args.boxes, "classes": args.classes,
            "import_seconds": round(t_import, 2),
            "import_samples_per_s": round(imported.samples / t_import, 1),
            "select_in_process_seconds": round(t_ours, 4),
            "select_cli_seconds": round(t_cli, 2),
            "fiftyone_idiomatic_seconds": round(t_fo, 3),
            "speedup_in_process": round(t_fo / t_ours, 1),
            "targets": {"in_process_s": 0.5, "cli_s": 10.0, "speedup": 5.0},
        }
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"pool {args.pool} images x {args.boxes} boxes ({args.classes}-class vectors)")
            print(f"predictions import:            {t_import:8.2f} s  "
                  f"({figures['import_samples_per_s']:.0f} samples/s)")
            print(f"workbench select (in process): {t_ours:8.3f} s  (target <= 0.5 s)")
            print(f"workbench select (CLI run):    {t_cli:8.2f} s  (target <= 10 s)")
            print(f"FiftyOne values()+numpy+tag:   {t_fo:8.3f} s")
            print(f"speedup in process: {figures['speedup_in_process']:.1f}x  (target >= 5x)")
        assert ours.selected == args.select
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
