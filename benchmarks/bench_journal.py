"""What crash safety costs: each write path with the operation journal on and off, one run.

On a synthetic pool of N images (B predicted boxes each), times in the same process:

* ``predictions import`` of a new run (the journal notes one "unset these fields" action);
* ``predictions import --replace`` of that run (the journal first copies the old values);
* ``select`` of K images (status, round and tags of K samples saved first);
* a status update of every pool sample (``query.update_ids``: all N saved first);

each (best of ``--repeats``, interleaved) without an operation (the store's writes as they
were before the journal) and once inside ``lock.hold`` (lock, journal document, saved states,
commit), and prints the ratio.

    .venv/bin/python benchmarks/bench_journal.py --pool 20000 --boxes 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _pool import add_pool, cleanup, make_workspace, random_predictions, write_jsonl


def _timed(fn: Callable[[int], Any], k: int) -> float:
    t0 = time.perf_counter()
    fn(k)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--select", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from workbench.prediction.imported import import_predictions
    from workbench.selection.select import SelectConfig, select
    from workbench.store import lock, query

    classes = [f"class{i}" for i in range(args.classes)]
    ws, tmp = make_workspace(classes)
    try:
        ids = add_pool(ws, args.pool)
        filepaths = [f"/bench/pool/{i:07d}.jpg" for i in range(args.pool)]
        jsonl = tmp / "preds.jsonl"
        write_jsonl(jsonl, filepaths, random_predictions(args.pool, args.boxes, args.classes),
                    classes)

        def journaled(fn: Callable[[int], Any]) -> Callable[[int], Any]:
            def run(k: int) -> Any:
                with lock.hold(ws, "bench"):
                    return fn(k)
            return run

        def new_run(k: int) -> Any:
            return import_predictions(ws, jsonl, f"run{k}")

        def replace(k: int) -> Any:
            return import_predictions(ws, jsonl, "run0", replace=True)

        def choose(k: int) -> Any:
            return select(ws, SelectConfig(n=args.select, strategy="entropy", run="run0",
                                           round=f"r{k}"))

        def update(k: int) -> Any:
            return query.update_ids(ws, ids, {"$set": {"status": "unlabeled"}})

        paths = {"predictions import (new run)": new_run, "predictions import --replace": replace,
                 f"select {args.select}": choose, f"status update of {args.pool} samples": update}
        figures: dict[str, Any] = {"pool": args.pool, "boxes_per_image": args.boxes,
                                   "repeats": args.repeats, "paths": {}}
        for name, fn in paths.items():  # interleaved, best of each: no warm-up bias
            offs, ons = [], []
            for k in range(args.repeats):
                offs.append(_timed(fn, 2 * k))
                ons.append(_timed(journaled(fn), 2 * k + 1))
            t_off, t_on = min(offs), min(ons)
            figures["paths"][name] = {"without_journal_s": round(t_off, 3),
                                      "with_journal_s": round(t_on, 3),
                                      "ratio": round(t_on / t_off, 2)}
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
            return
        print(f"pool {args.pool} images x {args.boxes} boxes")
        print(f"{'write path':40s} {'off (s)':>9s} {'journal (s)':>12s} {'ratio':>7s}")
        for name, row in figures["paths"].items():
            print(f"{name:40s} {row['without_journal_s']:9.3f} {row['with_journal_s']:12.3f} "
                  f"{row['ratio']:6.2f}x")
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
