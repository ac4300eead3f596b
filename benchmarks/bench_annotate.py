"""Annotation round-trip: package export of N images and import of their annotations.

Target (issue 5): importing the annotations of 2,000 images (~16,000 boxes) takes <= 5 s.
Baselines in the same run, on the same images and boxes: FiftyOne's COCO export of the view
(``export(dataset_type=COCODetectionDataset)``) for the package, and FiftyOne's COCO import
(``Dataset.from_dir(dataset_type=COCODetectionDataset)``) for the annotations.

The images are real demo photos, each given a unique trailer so that 2,000 distinct files
(distinct content hashes) exist.

    .venv/bin/python benchmarks/bench_annotate.py [--images 2000] [--boxes 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from _pool import cleanup, make_workspace

REPO = Path(__file__).resolve().parent.parent
CLASSES = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]


def _images(folder: Path, n: int) -> None:
    demo = sorted((REPO / "datasets" / "aquarium-mini").glob("*/images/*.jpg"))
    folder.mkdir(parents=True)
    for i in range(n):
        src = demo[i % len(demo)]
        (folder / f"{i:05d}.jpg").write_bytes(src.read_bytes() + f"bench{i}".encode())


def _coco(manifest: dict, boxes: int, seed: int = 0) -> dict:
    """Random boxes for every package image, written as annotators' COCO."""
    from workbench.annotation.api import Manifest, coco_document

    rng = np.random.default_rng(seed)
    images = Manifest.from_dict(manifest, "package").images
    answers = []
    for _ in images:
        xy = rng.uniform(0, 0.7, (boxes, 2))
        wh = rng.uniform(0.05, 0.3, (boxes, 2))
        cls = rng.integers(0, len(CLASSES), boxes)
        answers.append(([CLASSES[c] for c in cls.tolist()], np.c_[xy, wh].tolist(), None))
    return coco_document(images, CLASSES, answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--boxes", type=int, default=8, help="boxes per image")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import fiftyone as fo

    from workbench.annotation.api import (
        ImportConfig,
        PackageConfig,
        export_package,
        import_annotations,
    )
    from workbench.ingestion.ingest import ingest

    ws, tmp = make_workspace(CLASSES)
    try:
        _images(tmp / "pool", args.images)
        ingest(ws, tmp / "pool", "images")
        pkg = tmp / "round.zip"
        t0 = time.perf_counter()
        exported = export_package(ws, PackageConfig(out=pkg, view="pool"))
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        export_package(ws, PackageConfig(out=tmp / "nothumbs.zip", view="pool", thumbnails=False))
        t_export_nothumbs = time.perf_counter() - t0
        with zipfile.ZipFile(pkg) as zf:
            manifest = json.loads(zf.read("manifest.json"))
        coco = _coco(manifest, args.boxes)
        with zipfile.ZipFile(pkg, "a") as zf:
            zf.writestr("annotations.coco.json", json.dumps(coco))
        t0 = time.perf_counter()
        result = import_annotations(ws, ImportConfig(pkg))
        t_import = time.perf_counter() - t0
        assert result.images == args.images, result.to_dict()
        t0 = time.perf_counter()
        again = import_annotations(ws, ImportConfig(pkg))
        t_reimport = time.perf_counter() - t0
        assert again.images == 0

        # baselines: FiftyOne's own COCO export of the same images, and COCO import of the
        # same annotations (no validation, no diff, no versions)
        view = ws.dataset.match_tags("labeled")
        t0 = time.perf_counter()
        view.export(export_dir=str(tmp / "fo-export"), dataset_type=fo.types.COCODetectionDataset,
                    label_field="ground_truth", progress=False)
        t_fo_export = time.perf_counter() - t0
        (tmp / "fo-import").mkdir()
        with zipfile.ZipFile(pkg) as zf:
            zf.extractall(tmp / "fo-import", [n for n in zf.namelist() if n.startswith("images/")])
        (tmp / "fo-import" / "labels.json").write_text(json.dumps(coco))
        t0 = time.perf_counter()
        ds = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset,
                                 data_path=str(tmp / "fo-import" / "images"),
                                 labels_path=str(tmp / "fo-import" / "labels.json"),
                                 label_types="detections", label_field="ground_truth",
                                 progress=False)
        t_fo_import = time.perf_counter() - t0
        fo_boxes = ds.count("ground_truth.detections")
        ds.delete()
    finally:
        cleanup(tmp)
    report = {
        "images": args.images, "boxes": result.boxes, "fiftyone_boxes": fo_boxes,
        "package_mb": round(exported.size_bytes / 1e6, 1),
        "export_s": round(t_export, 2), "export_no_thumbnails_s": round(t_export_nothumbs, 2),
        "fiftyone_export_s": round(t_fo_export, 2),
        "import_s": round(t_import, 2), "reimport_unchanged_s": round(t_reimport, 2),
        "fiftyone_import_s": round(t_fo_import, 2),
        "import_speedup_vs_fiftyone": round(t_fo_import / t_import, 2),
        "export_ratio_vs_fiftyone": round(t_fo_export / t_export_nothumbs, 2),
        "target_import_s": 5.0, "meets_target": t_import <= 5.0,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"export {args.images} images ({report['package_mb']} MB): {t_export:.2f} s with "
          f"thumbnails, {t_export_nothumbs:.2f} s without; FiftyOne COCO export "
          f"{t_fo_export:.2f} s ({report['export_ratio_vs_fiftyone']}x)")
    print(f"import {result.boxes} boxes: {t_import:.2f} s (target <= 5 s: "
          f"{'met' if report['meets_target'] else 'MISSED'}); re-import unchanged "
          f"{t_reimport:.2f} s; FiftyOne COCO import {t_fo_import:.2f} s "
          f"({report['import_speedup_vs_fiftyone']}x)")


if __name__ == "__main__":
    main()
