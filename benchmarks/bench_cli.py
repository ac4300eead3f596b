"""CLI start-up: ``workbench status`` / ``runs`` / ``select --dry-run`` against ``import fiftyone``.

Builds the ``make demo`` workspace without training (init, ingest of the seed and pool YAMLs of
``datasets/aquarium-mini/demo``, split) plus a ``predictions import`` of synthetic predictions
on the pool (so ``select --dry-run`` has something to rank), then times in one run, each as a
new process, the median of N runs (after one warm-up; the workspace's mongod is running),
wall seconds and the CPU seconds of the process (less sensitive to a loaded machine):

* ``python -c "import fiftyone"`` (what every command paid before the store spoke pymongo);
* ``workbench status``, ``workbench runs`` and ``workbench select --uncertain 50 --dry-run``,
  each with ``--json`` (target: <= 1.5 s wall each).

It checks that each command printed the same JSON on every run.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5] [--json] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini" / "demo"
CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]
TARGET_S = 1.5


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
    env["FIFTYONE_DO_NOT_TRACK"] = "true"
    env.setdefault("WORKBENCH_MONGOD_IDLE", "60")
    return env


def _wb(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", *args]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str]) -> tuple[float, str, float]:
    """Run ``cmd``; return its wall seconds, its stdout and its CPU seconds (user + system)."""
    cpu0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=REPO)
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return seconds, proc.stdout, cpu


def _pool_predictions(path: Path, seed: int = 0) -> int:
    """Synthetic predictions (1-6 boxes, 7-class vectors) for every pool image; return lines."""
    rng = np.random.default_rng(seed)
    files = [(DEMO / line).resolve() for line in (DEMO / "pool.txt").read_text().split()]
    with path.open("w") as fh:
        for fp in files:
            dets = []
            for _ in range(int(rng.integers(1, 7))):
                probs = rng.dirichlet(np.full(len(CLASSES), 0.5))
                x, y = rng.uniform(0, 0.7, 2)
                w, h = rng.uniform(0.05, 0.3, 2)
                dets.append({"label": CLASSES[int(probs.argmax())],
                             "box": [round(float(v), 6) for v in (x, y, w, h)],
                             "confidence": round(float(probs.max()), 6),
                             "class_probs": [round(float(p), 6) for p in probs]})
            fh.write(json.dumps({"filepath": str(fp), "detections": dets}) + "\n")
    return len(files)


def build_workspace(ws: Path) -> None:
    """The demo workspace of ``make demo`` up to the split, plus imported pool predictions."""
    w = str(ws)
    _run(_wb("init", w, "--name", "aquarium-demo"))
    _run(_wb("ingest", str(DEMO / "seed.yaml"), "--format", "yolo", "--source",
             "aquarium-seed", "-w", w))
    _run(_wb("ingest", str(DEMO / "pool.yaml"), "--format", "yolo", "--unlabeled", "--source",
             "aquarium-pool", "-w", w))
    _run(_wb("split", "-w", w))
    jsonl = ws.parent / "pool-preds.jsonl"
    _pool_predictions(jsonl)
    _run(_wb("predictions", "import", str(jsonl), "--run", "synthetic", "-w", w))


def _result(stdout: str) -> Any:
    """A command's JSON without its timings (``seconds``); key order does not matter."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "seconds"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(stdout)) if stdout.strip() else None


def time_command(cmd: list[str], repeat: int) -> dict[str, Any]:
    """Median wall seconds of ``repeat`` runs after a warm-up; whether all results matched."""
    _, first, _ = _run(cmd)
    seconds, cpus, same = [], [], True
    for _ in range(repeat):
        s, out, cpu = _run(cmd)
        seconds.append(s)
        cpus.append(cpu)
        same = same and _result(out) == _result(first)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds),
            "max_s": max(seconds), "cpu_s": statistics.median(cpus), "identical": same,
            "output": _result(first)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None,
                        help="time an existing workspace instead of building one")
    parser.add_argument("--save-outputs", type=Path, default=None,
                        help="write each command's JSON result (timings removed) to this file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = None if args.workspace else Path(tempfile.mkdtemp(prefix="bench-cli-"))
    ws = args.workspace.resolve() if args.workspace else tmp / "ws"  # type: ignore[operator]
    try:
        t0 = time.perf_counter()
        if tmp is not None:
            build_workspace(ws)
        t_build = time.perf_counter() - t0
        w = str(ws)
        fo_import = time_command([sys.executable, "-c", "import fiftyone"], args.repeat)
        assert fo_import["output"] is None
        commands = {
            "status": _wb("status", "-w", w, "--json"),
            "runs": _wb("runs", "-w", w, "--json"),
            "select --dry-run": _wb("select", "--uncertain", "50", "--dry-run", "-w", w,
                                    "--json"),
        }
        timed = {name: time_command(cmd, args.repeat) for name, cmd in commands.items()}
        if args.save_outputs:
            args.save_outputs.write_text(json.dumps(
                {name: t["output"] for name, t in timed.items()}, indent=1, sort_keys=True))
        figures = {
            "repeat": args.repeat,
            "build_seconds": round(t_build, 1),
            "import_fiftyone_seconds": round(fo_import["median_s"], 3),
            "import_fiftyone_cpu_seconds": round(fo_import["cpu_s"], 3),
            "commands": {
                name: {"median_seconds": round(t["median_s"], 3),
                       "min_seconds": round(t["min_s"], 3), "max_seconds": round(t["max_s"], 3),
                       "cpu_seconds": round(t["cpu_s"], 3),
                       "ratio_to_import_fiftyone": round(t["median_s"] / fo_import["median_s"], 2),
                       "identical_output": t["identical"]}
                for name, t in timed.items()},
            "targets": {"command_s": TARGET_S},
        }
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"workspace {w} (built in {t_build:.1f} s); median of {args.repeat} runs")
            print(f"python -c 'import fiftyone':      {fo_import['median_s']:6.2f} s  "
                  f"(CPU {fo_import['cpu_s']:.2f} s)")
            for name, t in timed.items():
                ratio = t["median_s"] / fo_import["median_s"]
                print(f"workbench {name + ':':<22} {t['median_s']:6.2f} s  "
                      f"(CPU {t['cpu_s']:.2f} s; {ratio:.2f}x import fiftyone; "
                      f"target <= {TARGET_S} s)"
                      + ("" if t["identical"] else "  OUTPUT DIFFERED BETWEEN RUNS"))
        assert all(t["identical"] for t in timed.values())
    finally:
        if tmp is not None:
            from workbench.store import mongod

            mongod.stop(ws / ".fiftyone-db")
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
