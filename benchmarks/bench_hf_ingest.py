"""Hugging Face ingest (local Arrow dataset) against the YOLO ingest of the same images.

Writes N distinct real demo images (made unique by a JPEG comment segment, as in
``bench_ingest.py``) with their real label files once as a YOLO dataset and once as a local
``save_to_disk`` Arrow dataset (image bytes, ``objects: {bbox, category}`` in COCO pixels,
``ClassLabel`` names). Then, on one mongod, in one run:

* ingests both into fresh workspaces and prints samples/s of each and the ratio
  (target: the HF ingest within 1.5x of the YOLO one);
* measures the peak memory of the HF parse alone and of the whole HF ingest at 1,000 and at N
  images, each in a fresh process (target: flat memory; rows are read in bounded batches):
  the peak anonymous RSS, and the peak RSS, which also counts the pages of the memory-mapped
  Arrow file that were read (file-backed, reclaimable: they grow with the data read).

    .venv/bin/python benchmarks/bench_hf_ingest.py [--images 5000] [--json] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import CLASSES, build_yolo

OPTIONS = ("limit", "class_map", "split", "revision", "image_column", "objects_column",
           "bbox_format")


def build_arrow(yolo: Path, out: Path, n: int) -> None:
    """The YOLO dataset under ``yolo`` as a ``save_to_disk`` Dataset at ``out``."""
    import numpy as np

    import datasets
    from workbench.media.probe import probe_bytes

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(n):
            data = (yolo / "images" / "train" / f"img{i:06d}.jpg").read_bytes()
            info = probe_bytes(data)
            lab = np.loadtxt(yolo / "labels" / "train" / f"img{i:06d}.txt", ndmin=2)
            c = lab[:, 1:] * [info.width, info.height, info.width, info.height]
            yield {"image": {"bytes": data, "path": f"img{i:06d}.jpg"},
                   "objects": {"bbox": np.c_[c[:, :2] - c[:, 2:] / 2, c[:, 2:]].tolist(),
                               "category": lab[:, 0].astype(int).tolist()}}

    features = datasets.Features({"image": datasets.Image(), "objects": datasets.Sequence({
        "bbox": datasets.Sequence(datasets.Value("float64"), length=4),
        "category": datasets.ClassLabel(names=CLASSES)})})
    ds = datasets.Dataset.from_generator(rows, features=features,
                                         cache_dir=str(out.parent / "hf-cache"))
    ds.save_to_disk(str(out))
    shutil.rmtree(out.parent / "hf-cache", ignore_errors=True)


def start_mongod(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """FiftyOne's mongod on a free loopback port."""
    import socket

    import fiftyone.core.service as fos
    import pymongo

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    root.mkdir(parents=True)
    proc = subprocess.Popen(
        [fos.DatabaseService.find_mongod(), "--dbpath", str(root), "--port", str(port),
         "--bind_ip", "127.0.0.1", "--nounixsocket", "--logpath", str(root / "mongod.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    uri = f"mongodb://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            return proc, uri
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mongod did not start; see {root / 'mongod.log'}") from None
            time.sleep(0.2)


def workspace(root: Path, uri: str) -> Any:
    """A fresh workspace on the benchmark's mongod, connected."""
    from workbench.store.workspace import init_workspace

    ws = init_workspace(root, name=f"bench-{uuid.uuid4().hex[:8]}", database_uri=uri)
    ws.dataset  # noqa: B018  (connect outside the timings)
    return ws


def ingest_hf(ws: Any, data: Path, limit: int | None = None) -> Any:
    """``workbench ingest hf:DATA [--limit N]`` (``hf`` registered here if not yet)."""
    from workbench.ingestion.config import IngestConfig
    from workbench.ingestion.ingest import run_ingest
    from workbench.ingestion.sources import SOURCES, hf

    if "hf" not in SOURCES:
        SOURCES.register("hf", hf.parse, help="", scheme=True, options=OPTIONS)
    return run_ingest(ws, IngestConfig(path=f"hf:{data}", limit=limit))


def parse_seconds(tmp: Path) -> tuple[float, float]:
    """Seconds of the YOLO parse and of the HF parse (writing its images anew) alone."""
    from workbench.ingestion.sources import hf, yolo
    from workbench.media.records import SourceOptions

    t0 = time.perf_counter()
    yolo.parse(tmp / "yolo" / "dataset.yaml", SourceOptions())
    t_yolo = time.perf_counter() - t0
    t0 = time.perf_counter()
    hf.parse(tmp / "arrow", SourceOptions(workspace_root=tmp / "parse-only",
                                          spec=str(tmp / "arrow")))
    return t_yolo, time.perf_counter() - t0


def child(mode: str, data: Path, limit: int, uri: str, root: Path) -> None:
    """Print the peak memory (MiB) of one HF parse or ingest of ``limit`` rows in this process.

    ``VmHWM`` (peak RSS) counts the pages of the memory-mapped Arrow file that were read
    (file-backed, reclaimable); the peak of ``RssAnon`` (sampled every 5 ms) is the memory
    the process itself allocated.
    """
    import threading

    import datasets  # noqa: F401  (the imports count in both sizes alike)
    import workbench.store.workspace  # noqa: F401

    before = _status_mib("RssAnon")
    peak_anon = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak_anon[0] = max(peak_anon[0], _status_mib("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if mode == "parse":
        from workbench.ingestion.sources import hf
        from workbench.media.records import SourceOptions

        batch = hf.parse(data, SourceOptions(workspace_root=root, spec=str(data),
                                             params={"limit": limit}))
        count = len(batch.records)
    else:
        ws = workspace(root, uri)
        count = ingest_hf(ws, data, limit).added
        ws.dataset.delete()
    done.set()
    sampler.join()
    print(json.dumps({"images": count, "peak_rss_mib": _status_mib("VmHWM"),
                      "peak_anon_mib": max(peak_anon[0], _status_mib("RssAnon")),
                      "anon_before_mib": before}))


def _status_mib(key: str) -> float:
    """``RssAnon``/``VmHWM`` of this process in MiB (``ru_maxrss`` would carry the parent's
    peak over ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {key} in /proc/self/status")


def peak_rss(mode: str, data: Path, limit: int, uri: str,
             root: Path) -> tuple[float, float, float]:
    """``(peak RSS, peak anonymous RSS, anonymous RSS after the imports)`` in MiB of
    :func:`child` run in a fresh process."""
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data),
                           "--images", str(limit), "--uri", uri, "--root", str(root)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{mode} of {limit} rows failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["images"] != limit:
        raise RuntimeError(f"{mode} of {limit} rows gave {out['images']} images")
    return (float(out["peak_rss_mib"]), float(out["peak_anon_mib"]),
            float(out["anon_before_mib"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", help="where the datasets and workspaces go (default: the "
                        "temporary folder); e.g. /dev/shm to take the disk out of the figures")
    parser.add_argument("--child", choices=["parse", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.images, args.uri, args.root)
        return

    import workbench as wb

    tmp = Path(tempfile.mkdtemp(prefix="bench-hf-", dir=args.dir))
    mongod = None
    try:
        t0 = time.perf_counter()
        boxes = build_yolo(tmp / "yolo", args.images)
        build_arrow(tmp / "yolo", tmp / "arrow", args.images)
        t_build = time.perf_counter() - t0
        os.sync()  # the datasets' own writeback must not run into the timings (HF writes)
        mongod, uri = start_mongod(tmp / "db")

        ws_y = workspace(tmp / "ws-yolo", uri)
        t0 = time.perf_counter()
        res_y = wb.ingest(ws_y, tmp / "yolo" / "dataset.yaml", "yolo")
        t_yolo = time.perf_counter() - t0
        os.sync()

        ws_h = workspace(tmp / "ws-hf", uri)
        t0 = time.perf_counter()
        res_h = ingest_hf(ws_h, tmp / "arrow")
        t_hf = time.perf_counter() - t0
        for res in (res_y, res_h):
            if res.added != args.images or res.boxes_added != boxes:
                raise RuntimeError(f"ingest incomplete: {res.to_dict()}")
        ws_y.dataset.delete()
        ws_h.dataset.delete()
        os.sync()
        t_parse_y, t_parse_h = parse_seconds(tmp)

        small = min(1000, args.images)
        rss = {f"{mode}_{n}": peak_rss(mode, tmp / "arrow", n, uri, tmp / f"rss-{mode}-{n}")
               for mode in ("parse", "ingest") for n in sorted({small, args.images})}
        figures = {
            "images": args.images, "boxes_per_image": round(boxes / args.images, 2),
            "build_seconds": round(t_build, 1),
            "yolo_seconds": round(t_yolo, 2),
            "yolo_samples_per_s": round(args.images / t_yolo, 1),
            "hf_seconds": round(t_hf, 2),
            "hf_samples_per_s": round(args.images / t_hf, 1),
            "hf_time_over_yolo": round(t_hf / t_yolo, 2), "target_ratio": 1.5,
            "yolo_parse_seconds": round(t_parse_y, 2),
            "hf_parse_seconds_writing_images": round(t_parse_h, 2),
            **{f"peak_rss_mib_{k}": v[0] for k, v in rss.items()},
            **{f"peak_anon_rss_mib_{k}": v[1] for k, v in rss.items()},
            **{f"anon_rss_after_imports_mib_{k}": v[2] for k, v in rss.items()},
        }
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"{args.images} images, {figures['boxes_per_image']} boxes/image "
                  f"(datasets written in {t_build:.1f} s)")
            print(f"yolo ingest:          {t_yolo:7.2f} s  {args.images / t_yolo:8.1f} samples/s")
            print(f"hf ingest (Arrow):    {t_hf:7.2f} s  {args.images / t_hf:8.1f} samples/s")
            print(f"hf time / yolo time:  {t_hf / t_yolo:.2f}x  (target <= 1.5x)")
            print(f"of which parsing:     yolo {t_parse_y:.2f} s, hf {t_parse_h:.2f} s (hf "
                  f"hashes and writes every image into the workspace)")
            for mode in ("parse", "ingest"):
                lo, hi = rss[f"{mode}_{small}"], rss[f"{mode}_{args.images}"]
                print(f"hf {mode:6} at {small} / {args.images} images: peak anonymous RSS "
                      f"{lo[1]:.1f} / {hi[1]:.1f} MiB (after the imports {lo[2]:.1f} / "
                      f"{hi[2]:.1f}); peak RSS incl. the mapped Arrow file {lo[0]:.1f} / "
                      f"{hi[0]:.1f} MiB")
    finally:
        if mongod is not None:
            mongod.terminate()
            mongod.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
