"""``workbench predictions import`` end to end (CLI) against the in-process write path.

Builds a synthetic pool once (plain pool documents, like ``_pool.py``: no image is read), writes
the predictions JSONL of issue 20's shape (12 boxes per image, each with a 5-class
``class_probs``), then times in one run, each after the previous run's fields were removed:

* the in-process write path alone: ``image_scores`` + ``write_predictions`` on arrays already in
  memory, with the App's display copy ``show_<run>`` as the import writes it (the baseline of
  the ratio), and without it (issue 20's 5,970 samples/s on an idle machine was measured so);
* ``workbench predictions import FILE --run NAME`` as a new process (wall time: start-up, JSONL
  parse and validation, writes, display field, run record), with its peak RSS;
* with ``--old FILE`` (a copy of an earlier ``workbench/prediction/imported.py``), the same CLI
  command with that module's ``import_file`` in place of today's, for a before/after ratio.

Target (issue 20): CLI >= 4,000 samples/s, i.e. >= 0.67x the in-process writer.

    .venv/bin/python benchmarks/bench_import.py [--images 120000] [--old /tmp/old_imported.py]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _pool import add_pool, cleanup, make_workspace, random_predictions, write_jsonl

CLASSES = ["fish", "jellyfish", "penguin", "shark", "starfish"]
TARGET = 4000
#: What the CLI process runs with ``--old``: the old module's ``import_file`` patched in.
OLD_CLI = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("old_imported", sys.argv[1])
old = importlib.util.module_from_spec(spec)
sys.modules["old_imported"] = old
spec.loader.exec_module(old)
import workbench.prediction.imported as new
new.import_file = old.import_file
sys.argv = ["workbench", *sys.argv[2:]]
from workbench.cli.main import main
main()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
    env["FIFTYONE_DO_NOT_TRACK"] = "true"
    env.setdefault("WORKBENCH_MONGOD_IDLE", "120")
    return env


def run_cli(cmd: list[str]) -> tuple[float, float, dict[str, Any]]:
    """Run ``cmd``; return its wall seconds, its peak RSS (MiB) and its JSON output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    rss = _RSS.get(proc.pid, float("nan"))
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()}")
    return seconds, rss, json.loads(out)


#: pid -> peak RSS (MiB) of each child reaped, from ``wait4``.
_RSS: dict[int, float] = {}


def _popen_wait4() -> None:
    """Make ``Popen`` reap with ``wait4`` so each child's own peak RSS is kept."""
    original = subprocess.Popen._try_wait  # type: ignore[attr-defined]

    def try_wait(self: subprocess.Popen[bytes], wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return original(self, wait_flags)
        if pid:
            _RSS[pid] = usage.ru_maxrss / 1024
        return pid, status

    subprocess.Popen._try_wait = try_wait  # type: ignore[attr-defined]


def reset(ws: Any, run: str, indexes: set[str]) -> None:
    """Remove what importing ``run`` wrote (fields, score indexes) so the next run starts equal."""
    prefixes = tuple(f"{p}_{run.replace('-', '_')}" for p in ("pred", "scores", "unc", "show"))
    doc = ws.samples.find_one({}) or {}
    fields = [k for k in doc if k.startswith(prefixes)]
    if fields:
        ws.samples.update_many({}, {"$unset": dict.fromkeys(fields, "")})
    for name in set(ws.samples.index_information()) - indexes:
        ws.samples.drop_index(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=120000)
    parser.add_argument("--boxes", type=int, default=12)
    parser.add_argument("--old", type=Path, default=None,
                        help="a copy of an earlier imported.py, timed through the CLI too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _popen_wait4()

    from workbench.core.boxes import xywhn_to_xyxyn
    from workbench.core.types import Predictions
    from workbench.selection.api import image_scores, indexed_keys
    from workbench.store.predictions import DISPLAY_CONF, write_predictions

    n = args.images
    ws, tmp = make_workspace(CLASSES)
    try:
        t0 = time.perf_counter()
        ids = add_pool(ws, n)
        fps = [f"/bench/pool/{i:07d}.jpg" for i in range(n)]
        p = random_predictions(n, args.boxes, len(CLASSES))
        for key in ("xywh", "confidence", "probs"):  # what the file holds
            p[key] = p[key].round(6)
        jsonl = tmp / "preds.jsonl"
        write_jsonl(jsonl, fps, p, CLASSES)
        t_build = time.perf_counter() - t0
        indexes = set(ws.samples.index_information())

        preds = Predictions(xywhn_to_xyxyn(p["xywh"]), p["confidence"], p["class_id"],
                            p["image_index"], p["probs"])
        t0 = time.perf_counter()
        scores = image_scores(preds, n)
        write_predictions(ws, "bare", ids, preds, CLASSES, scores=scores,
                          indexed=indexed_keys(scores))
        t_bare = time.perf_counter() - t0
        reset(ws, "bare", indexes)
        t0 = time.perf_counter()
        scores = image_scores(preds, n)
        write_predictions(ws, "inproc", ids, preds, CLASSES, scores=scores,
                          indexed=indexed_keys(scores),
                          display_conf=DISPLAY_CONF)  # the import's writes: the App's copy too
        t_write = time.perf_counter() - t0
        reset(ws, "inproc", indexes)

        w = str(tmp / "ws")
        timed: dict[str, tuple[float, float, dict[str, Any]]] = {}
        if args.old is not None:
            timed["old"] = run_cli([sys.executable, "-c", OLD_CLI, str(args.old.resolve()),
                                    "predictions", "import", str(jsonl), "--run", "cli-old",
                                    "-w", w, "--json"])
            reset(ws, "cli-old", indexes)
        timed["new"] = run_cli([sys.executable, "-m", "workbench", "predictions", "import",
                                str(jsonl), "--run", "cli-new", "-w", w, "--json"])
        for _, _, out in timed.values():
            assert (out["samples"], out["boxes"], out["errors"]) == (n, n * args.boxes, 0), out

        write_rate = n / t_write
        figures: dict[str, Any] = {
            "images": n, "boxes_per_image": args.boxes, "classes": len(CLASSES),
            "file_mib": round(jsonl.stat().st_size / 2**20, 1), "build_seconds": round(t_build, 1),
            "in_process_write_seconds": round(t_write, 2),
            "in_process_write_without_display_seconds": round(t_bare, 2),
            "in_process_write_samples_per_s": round(write_rate, 1),
            "target_samples_per_s": TARGET}
        for name, (seconds, rss, out) in timed.items():
            figures[f"cli_{name}"] = {
                "seconds": round(seconds, 2), "samples_per_s": round(n / seconds, 1),
                "ratio_to_in_process_write": round((n / seconds) / write_rate, 3),
                "import_seconds_reported": out["seconds"], "peak_rss_mib": round(rss, 1)}
        if "old" in timed:
            figures["speedup_new_over_old"] = round(timed["old"][0] / timed["new"][0], 2)
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
            return
        print(f"{n} images x {args.boxes} boxes, {len(CLASSES)}-class class_probs; "
              f"JSONL {figures['file_mib']} MiB (built in {t_build:.0f} s)")
        print(f"in-process writer, no show_:  {t_bare:7.2f} s  {n / t_bare:8.1f} samples/s")
        print(f"in-process write path:        {t_write:7.2f} s  {write_rate:8.1f} samples/s"
              "  (the import's writes: pred_, scores_, show_)")
        for name in timed:
            f = figures[f"cli_{name}"]
            print(f"CLI predictions import ({name}): {f['seconds']:7.2f} s  "
                  f"{f['samples_per_s']:8.1f} samples/s  "
                  f"{f['ratio_to_in_process_write']:.2f}x the writer  "
                  f"peak RSS {f['peak_rss_mib']:.0f} MiB")
        if "speedup_new_over_old" in figures:
            print(f"new / old: {figures['speedup_new_over_old']:.2f}x")
        print(f"target: >= {TARGET} samples/s end to end "
              f"(>= {TARGET / 5970:.2f}x the writer, as on the idle machine)")
    finally:
        cleanup(tmp)


if __name__ == "__main__":
    main()
