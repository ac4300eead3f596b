"""FathomNet download throughput: the bounded pool (8 workers) against one worker.

Serves N real demo images from the local FathomNet-shaped server
(``tests/media/fathomnet_server.py``, 127.0.0.1) with a simulated per-request latency, and
times :func:`workbench.media.download.download` into a fresh cache with 1 and with W workers
(each image fetched, checked and written under its hash). Then times a second, resumed run
(everything cached: no request). Prints images/s, MB/s and the speed-up.

    .venv/bin/python benchmarks/bench_fathomnet.py [--images 300] [--latency 0.05]
        [--workers 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.media.fathomnet_server import FathomNetServer  # noqa: E402
from workbench.media.download import download  # noqa: E402

DEMO = REPO / "datasets" / "aquarium-mini"


def run(n: int, latency: float, workers: int) -> dict[str, Any]:
    """Time the downloads; return the figures."""
    images = sorted((DEMO / "train" / "images").glob("*.jpg"))[:n]
    if len(images) < n:
        raise SystemExit(f"only {len(images)} demo images; use --images {len(images)}")
    out: dict[str, Any] = {"images": n, "latency_s": latency}
    with FathomNetServer(images, records=[]) as server:
        server.latency = latency
        urls = [server.url(p.name) for p in images]
        total_mb = sum(len(b) for b in server.files.values()) / 1e6
        out["total_mb"] = round(total_mb, 2)
        for w in (1, workers):
            with tempfile.TemporaryDirectory() as tmp:
                before = server.static_requests()
                t0 = time.perf_counter()
                results = download(urls, Path(tmp), workers=w)
                dt = time.perf_counter() - t0
                failed = sum(r.error is not None for r in results)
                t1 = time.perf_counter()
                again = download(urls, Path(tmp), workers=w)
                resumed = time.perf_counter() - t1
                out[f"workers_{w}"] = {
                    "seconds": round(dt, 3), "images_per_s": round(n / dt, 1),
                    "mb_per_s": round(total_mb / dt, 2), "failed": failed,
                    "requests": server.static_requests() - before,
                    "resumed_run_s": round(resumed, 3),
                    "resumed_all_cached": all(r.cached for r in again)}
        out["speedup"] = round(out["workers_1"]["seconds"] / out[f"workers_{workers}"]["seconds"],
                               2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run(args.images, args.latency, args.workers)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['images']} images, {res['total_mb']} MB, {res['latency_s'] * 1000:.0f} ms "
          "latency per request (local server)")
    for key in ("workers_1", f"workers_{args.workers}"):
        r = res[key]
        print(f"  {key.replace('_', ' '):>10}: {r['seconds']:6.2f} s  {r['images_per_s']:7.1f} "
              f"images/s  {r['mb_per_s']:6.2f} MB/s  ({r['requests']} requests, {r['failed']} "
              f"failed; resumed run {r['resumed_run_s']:.3f} s, all cached: "
              f"{r['resumed_all_cached']})")
    print(f"  speed-up {args.workers} workers vs 1: {res['speedup']}x")


if __name__ == "__main__":
    main()
