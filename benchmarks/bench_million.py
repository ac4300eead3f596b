"""A 1M-image / 10M-box pool: predictions import, select, status, check and the App (issue 20).

Builds a pool of ``--pool`` tiny synthetic images (plain documents, like ``_pool.py``'s) with
``--boxes`` predicted boxes each (C-class vectors), written as a ``predictions import`` file in
chunks, and times each command as a new user runs it: a CLI process of its own, with its peak
RSS (the command's process; the mongod is separate). The same steps on a ``--ref`` pool (100k
by default) in the same run give the baseline: the ratio says how each step scales (10x the
pool: about 10x for a step that reads every image, about 1x for an index walk).

Targets: ``select --uncertain 2000`` <= 2 s in process and <= 15 s as a CLI run; every
command's peak RSS < 4 GB.

    .venv/bin/python benchmarks/bench_million.py --pool 1000000 --boxes 10 [--ref 100000]
        [--app] [--json]

``--app`` also starts ``workbench app`` and opens the dataset page in headless Chromium
(Playwright, as ``tests/ui/browser``): seconds until the server answers, until the grid shows
the sample count, and until the first page of the grid sorted by the entropy field arrives
(the images do not exist, so no thumbnail is drawn).
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

REPO = Path(__file__).resolve().parents[1]
CHUNK = 50_000
#: Runs a command and prints its peak RSS (KiB, the children's ru_maxrss) as the last line.
RSS_WRAPPER = ("import resource, subprocess, sys\n"
               "rc = subprocess.run(sys.argv[1:]).returncode\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(rc)\n")


def cli(*args: str) -> tuple[float, float, str]:
    """``workbench ARGS`` in a new process: ``(seconds, peak RSS in MiB, stdout)``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, sys.executable, "-m",
                           "workbench", *args], capture_output=True, text=True, env=env,
                          cwd=REPO)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return seconds, rss_kib / 1024, proc.stdout


def build(n: int, boxes: int, classes: list[str]) -> tuple[Any, Path, float, float]:
    """A workspace with ``n`` pool samples and the predictions file for them: ``(ws, tmp,
    seconds to insert the samples, seconds to write the file)``."""
    ws, tmp = make_workspace(classes)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        add_pool(ws, min(CHUNK, n - start), start)
    t_insert = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        preds = random_predictions(size, boxes, len(classes), seed=start)
        write_jsonl(tmp / "preds.jsonl", [f"/bench/pool/{i:07d}.jpg"
                                          for i in range(start, start + size)],
                    preds, classes, append=start > 0)
    return ws, tmp, t_insert, time.perf_counter() - t0


def measure(n: int, boxes: int, classes: list[str], n_select: int, app: bool,
            label: str) -> dict[str, Any]:
    """Every step on a pool of ``n`` images."""
    from workbench.selection.select import SelectConfig, select

    print(f"[{label}] building {n} images x {boxes} boxes ...", file=sys.stderr, flush=True)
    ws, tmp, t_insert, t_file = build(n, boxes, classes)
    out: dict[str, Any] = {"pool": n, "boxes": n * boxes, "insert_s": round(t_insert, 1),
                           "file_s": round(t_file, 1),
                           "file_gb": round((tmp / "preds.jsonl").stat().st_size / 1e9, 2)}
    w = ["-w", str(tmp / "ws")]
    try:
        steps = {
            "import": ("predictions", "import", str(tmp / "preds.jsonl"), "--run", "big",
                       "--json"),
            "select_cli": ("select", "--uncertain", str(n_select), "--strategy", "entropy",
                           "--round", "cli", "--json"),
            "status": ("status", "--json"),
            "check": ("check", "--json"),
        }
        for name, args in steps.items():
            print(f"[{label}] {name} ...", file=sys.stderr, flush=True)
            seconds, rss, _ = cli(*args, *w)
            out[f"{name}_s"], out[f"{name}_rss_mib"] = round(seconds, 2), round(rss)
            if name == "import":
                out["import_samples_per_s"] = round(n / seconds)
                t0 = time.perf_counter()  # in process, after the CLI's: same indexes, warm
                chosen = select(ws, SelectConfig(n=n_select, strategy="entropy",
                                                 round="inproc"))
                out["select_in_process_s"] = round(time.perf_counter() - t0, 3)
                assert chosen.selected == n_select
        if app:
            out.update(open_app(tmp / "ws", ws.config.name, label))
    finally:
        cleanup(tmp)
    return out


def open_app(ws: Path, dataset: str, label: str) -> dict[str, float]:
    """Seconds to a running App server, to the grid's sample count, and to the grid sorted by
    the entropy field."""
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.conftest import _free_port
    from tests.ui.browser import helpers, processes

    print(f"[{label}] app ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    app = processes.start_app(ws, dataset, _free_port(), ws.parent / "app.log", timeout=600)
    figures = {"app_server_s": round(time.perf_counter() - t0, 1)}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=processes.ensure_chromium(),
                                         args=processes.CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(app.dataset_url)
            deadline = time.time() + 600
            while True:
                try:
                    if helpers.entry_count(page) > 0:
                        break
                except Exception:  # the count is not drawn yet
                    if time.time() > deadline:
                        raise
                time.sleep(0.2)
            figures["app_count_s"] = round(time.perf_counter() - t0, 1)
            helpers.dismiss_popovers(page)
            t0 = time.perf_counter()
            helpers.sort_grid_by(page, "unc_big_entropy")
            with page.expect_response(_samples_page, timeout=600_000) as answer:
                helpers.set_sort_descending(page)  # the grid asks for its first page again
            assert answer.value.ok
            figures["app_sorted_s"] = round(time.perf_counter() - t0, 1)
            browser.close()
    finally:
        processes.stop_app(app)
    return figures


def _samples_page(response: Any) -> bool:
    """Whether ``response`` answers the grid's request for a page of samples."""
    return "graphql" in response.url and "paginateSamples" in (
        response.request.post_data or "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--ref", type=int, default=100_000, help="the baseline pool (0: none)")
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--select", type=int, default=2000)
    parser.add_argument("--app", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", type=int, help=argparse.SUPPRESS)  # one pool, this process
    args = parser.parse_args()
    classes = [f"class{i}" for i in range(args.classes)]
    if args.only:
        json.dump(measure(args.only, args.boxes, classes, args.select, args.app,
                          str(args.only)), sys.stdout)
        return

    def one(n: int) -> dict[str, Any]:
        """Measure pool ``n`` in a process of its own (one embedded mongod per process)."""
        more = ["--app"] if args.app else []
        done = subprocess.run([sys.executable, __file__, "--only", str(n), "--boxes",
                               str(args.boxes), "--classes", str(args.classes), "--select",
                               str(args.select), *more], stdout=subprocess.PIPE, text=True,
                              check=True)
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    ref = one(args.ref) if args.ref else None
    big = one(args.pool)
    figures = {"pool": big, "ref": ref,
               "targets": {"select_in_process_s": 2.0, "select_cli_s": 15.0, "rss_mib": 4096}}
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    print(f"pool {args.pool} images x {args.boxes} boxes ({args.classes}-class vectors); "
          f"baseline: the same steps on {args.ref} images, same run")
    print(f"{'step':<22}{'pool s':>9}{'RSS MiB':>9}{'ref s':>9}{'ratio':>7}")
    for key in ("import", "select_in_process", "select_cli", "status", "check", "app_server",
                "app_count", "app_sorted"):
        if f"{key}_s" not in big:
            continue
        r = ref.get(f"{key}_s") if ref else None
        ratio = f"{big[f'{key}_s'] / r:6.1f}x" if r else ""
        rss = big.get(f"{key}_rss_mib", "")
        print(f"{key:<22}{big[f'{key}_s']:>9}{rss:>9}{r if r is not None else '':>9}{ratio:>7}")
    print(f"import: {big['import_samples_per_s']} samples/s; targets: select <= 2 s in "
          "process, <= 15 s CLI; peak RSS < 4096 MiB")


if __name__ == "__main__":
    main()
