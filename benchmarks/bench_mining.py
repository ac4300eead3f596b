"""Hard-negative mining against its honest baseline, on the demo data.

Two workspaces of the same data (the demo seed as training images, the val split, and
``--negatives`` images: demo images whose boxes are painted out, see ``_negatives.py``), the
same starting run (the shipped seed checkpoint fine-tuned like ``make demo``), then
``workbench mine --iterations N`` in each: one labels the negatives the model fires on
(``--choose hardest``, at most ``--per-iteration`` per pass), the other exactly as many per
pass drawn at random from all negatives (``--choose random --per-pass``). Each pass
retrains from the previous weights for the same epochs. Printed per pass and arm: false
positives per val image at ``--fp-conf``, mAP50, negatives added; then the last pass's ratios
(hardest / random) as mean ± std over seeds.

    .venv/bin/python benchmarks/bench_mining.py --iterations 3 --per-iteration 20 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._negatives import make_negatives  # noqa: E402

DEMO = REPO / "datasets" / "aquarium-mini"
SEED = DEMO / "weights" / "yolov8n-224-seed.pt"


def wb(*args: str) -> str:
    """Run ``workbench ARGS`` and return its stdout (raise with stderr on failure)."""
    proc = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def workspace(root: Path, negatives: Path, args: argparse.Namespace) -> Path:
    """A workspace with the demo seed (train), val/test splits and the negatives; base run."""
    ws = root / "ws"
    wb("init", str(ws), "--name", root.name)
    wb("ingest", str(DEMO / "demo" / "seed.yaml"), "-f", "yolo", "--source", "seed",
       "-w", str(ws))
    wb("ingest", str(negatives), "-f", "images", "--negatives", "--source", "negatives",
       "-w", str(ws))
    wb("train", "--model", str(SEED), "--imgsz", str(args.imgsz), "--epochs",
       str(args.base_epochs), "--batch", "16", "--run", "base", "-w", str(ws), "--json")
    return ws


def arm(ws: Path, choose: str, seed: int, args: argparse.Namespace,
        per_pass: list[int] | None = None) -> dict[str, Any]:
    """``mine --iterations`` in one workspace; its JSON. ``per_pass``: the random arm draws
    exactly as many negatives per pass as the hardest arm labeled."""
    counts = ["--per-pass", ",".join(map(str, per_pass))] if per_pass else []
    out = wb("mine", "--run", "base", "--negatives", "tag:negative", "--choose", choose,
             "--per-iteration", str(args.per_iteration), *counts,
             "--iterations", str(args.iterations),
             "--epochs", str(args.epochs), "--fp-conf", str(args.fp_conf), "--seed", str(seed),
             "--critical", args.critical, "-w", str(ws), "--json")
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--per-iteration", type=int, default=20)
    parser.add_argument("--negatives", type=int, default=120, help="negative images made")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each retrain")
    parser.add_argument("--base-epochs", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=224)
    parser.add_argument("--fp-conf", type=float, default=0.15)
    parser.add_argument("--critical", default="shark,stingray")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mining-"))
    # negatives from the demo pool's images (not in these workspaces: no scene leaks in)
    pool = [(DEMO / "demo" / line.strip()).resolve()
            for line in (DEMO / "demo" / "pool.txt").read_text().splitlines() if line.strip()]
    negatives = tmp / "negatives"
    make_negatives(pool, DEMO / "train" / "labels", negatives, args.negatives, seed=0)
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {"hardest": [], "random": []}
    for seed in range(args.seeds):
        for choose in results:
            root = tmp / f"{choose}-{seed}"
            root.mkdir()
            t0 = time.perf_counter()
            ws = workspace(root, negatives, args)
            hardest = results["hardest"][-1]["iterations"] if choose == "random" else []
            res = arm(ws, choose, seed, args,
                      [r["negatives_added"] for r in hardest[:args.iterations]])
            res["arm_seconds"] = round(time.perf_counter() - t0, 1)
            results[choose].append(res)
            print(f"\n{choose}, seed {seed} ({res['arm_seconds']:.0f} s)")
            print("pass | FP/image | mAP50 | negatives added | recall " + args.critical)
            for row in res["iterations"]:
                print(f"{row['iteration']:>4} | {row['fp_per_image']:8.3f} | "
                      f"{row['map50']:.4f} | {row['negatives_added']:>15} | "
                      + ", ".join("-" if v is None else f"{v:.2f}"
                                  for v in row["recall"].values()))
    print(f"\n{args.seeds} seed(s), {args.iterations} passes, {args.per_iteration} negatives "
          f"per pass, {args.epochs} epochs per retrain, conf >= {args.fp_conf}; "
          f"{time.perf_counter() - started:.0f} s in all")
    summary: dict[str, Any] = {}
    for metric in ("fp_per_image", "map50"):
        per_arm = {c: [r["iterations"][-1][metric] for r in rs] for c, rs in results.items()}
        first = [r["iterations"][0][metric] for r in results["hardest"]]
        ratios = [h / r if r else float("nan")
                  for h, r in zip(per_arm["hardest"], per_arm["random"], strict=True)]
        summary[metric] = {"start": first, **per_arm, "ratio_hardest_over_random": ratios}
        sd = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        print(f"last pass {metric}: hardest {_ms(per_arm['hardest'])}, random "
              f"{_ms(per_arm['random'])} (start {_ms(first)}); ratio hardest/random "
              f"{statistics.fmean(ratios):.3f} ± {sd:.3f}")
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                        "summary": summary, "runs": results}, indent=2))


def _ms(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f}"


if __name__ == "__main__":
    main()
