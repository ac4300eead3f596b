"""Ingest throughput: ``workbench ingest --format yolo`` against ``fo.Dataset.from_dir``.

Builds a YOLO folder of N real demo images (each made unique by a JPEG comment segment, so
content-hash deduplication does not collapse them) with their real label files (~7.5 boxes
per image), then, in one process on one mongod, times:

* workbench's ingest (parse, header read + sha256 of every image, validation, bulk insert);
* FiftyOne's ``Dataset.from_dir(dataset_type=fo.types.YOLOv5Dataset)`` on the same files.

Targets (issue 2): >= 2,000 samples/s, and >= 5x from_dir.

    .venv/bin/python benchmarks/bench_ingest.py [--images 5000] [--json]
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
CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]


def build_yolo(root: Path, n: int) -> int:
    """Write ``n`` unique images + labels under ``root``; return the number of boxes."""
    sources = [p for p in sorted((DEMO / "train" / "images").glob("*.jpg"))
               if (DEMO / "train" / "labels" / f"{p.stem}.txt").stat().st_size > 0]
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    blobs = [p.read_bytes() for p in sources]
    labels = [(DEMO / "train" / "labels" / f"{p.stem}.txt").read_text() for p in sources]
    boxes = 0
    for i in range(n):
        k = i % len(sources)
        tag = f"bench-{i}".encode()
        com = b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag
        data = blobs[k][:2] + com + blobs[k][2:]  # SOI, comment, rest: a valid, unique JPEG
        (root / "images" / "train" / f"img{i:06d}.jpg").write_bytes(data)
        (root / "labels" / "train" / f"img{i:06d}.txt").write_text(labels[k])
        boxes += sum(1 for line in labels[k].splitlines() if line.strip())
    (root / "dataset.yaml").write_text(
        f"path: {root}\ntrain: ./images/train/\nnames: {CLASSES}\n")
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import workbench as wb
    import workbench.ingestion.ingest

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        boxes = build_yolo(tmp / "data", args.images)
        ws = wb.init_workspace(tmp / "ws", name=f"bench-{uuid.uuid4().hex[:8]}")
        ws.dataset  # noqa: B018  (connect and start mongod outside the timings)

        t0 = time.perf_counter()
        result = wb.ingest(ws, tmp / "data" / "dataset.yaml", "yolo")
        t_wb = time.perf_counter() - t0
        assert result.added == args.images, result.to_dict()

        import fiftyone as fo

        t0 = time.perf_counter()
        ds = fo.Dataset.from_dir(dataset_dir=str(tmp / "data"),
                                 dataset_type=fo.types.YOLOv5Dataset, split="train",
                                 name=f"bench-fo-{uuid.uuid4().hex[:8]}")
        t_fo = time.perf_counter() - t0
        assert len(ds) == args.images
        ds.delete()
        ws.dataset.delete()

        figures = {
            "images": args.images,
            "boxes_per_image": round(boxes / args.images, 2),
            "workbench_seconds": round(t_wb, 2),
            "workbench_samples_per_s": round(args.images / t_wb, 1),
            "fiftyone_from_dir_seconds": round(t_fo, 2),
            "fiftyone_from_dir_samples_per_s": round(args.images / t_fo, 1),
            "speedup": round(t_fo / t_wb, 2),
            "target_samples_per_s": 2000,
            "target_speedup": 5.0,
        }
        if args.json:
            json.dump(figures, sys.stdout, indent=2)
            print()
        else:
            print(f"{args.images} images, {figures['boxes_per_image']} boxes/image")
            print(f"workbench ingest (yolo):     {t_wb:7.2f} s  "
                  f"{figures['workbench_samples_per_s']:8.1f} samples/s  (target >= 2000)")
            print(f"fo.Dataset.from_dir(YOLOv5): {t_fo:7.2f} s  "
                  f"{figures['fiftyone_from_dir_samples_per_s']:8.1f} samples/s")
            print(f"speedup: {figures['speedup']:.2f}x  (target >= 5x)")
    finally:
        from workbench.store import mongod

        mongod.stop(tmp / "ws" / ".fiftyone-db")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
