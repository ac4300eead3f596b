"""Device exports in the vendors' simulators against the FP32 ONNX, on the demo val images.

Targets (issue 7): simulator cosine >= 0.99 for K210 and RKNN (raw head maps, simulator vs
FP32 onnxruntime on the same letterboxed images), and detection accuracy next to the FP32
figure (mAP50 decoded with the same numpy post-processing). All from the shipped
`yolov8n-224.pt`, measured in one run; needs `workbench toolchain install k210|rknn|k230`.

    .venv/bin/python benchmarks/bench_devices.py [--targets k210,rknn] [--val-limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _pool import cleanup, make_workspace

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="k210,rknn")
    parser.add_argument("--calibration-count", type=int, default=100)
    parser.add_argument("--val-limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from workbench.deployment.exporting import ExportConfig, export_model
    from workbench.ingestion.ingest import ingest

    names = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]
    ws, tmp = make_workspace(names)
    rows = []
    try:
        ingest(ws, DEMO / "data.yaml", "yolo")
        weights = str(DEMO / "weights" / "yolov8n-224.pt")
        for target in args.targets.split(","):
            r = export_model(ws, ExportConfig(run=weights, target=target,
                                              calibration_count=args.calibration_count,
                                              val_limit=args.val_limit,
                                              accept_drop=True))  # measure, even if refused
            rows.append({
                "target": target, "images": r["val"]["images"],
                "map50_fp32": r["map50_fp32"], "map50": r["map50"],
                "map50_points_lost": round(100 * (r["map50_fp32"] - r["map50"]), 2),
                "map50_ratio": round(r["map50"] / r["map50_fp32"], 3) if r["map50_fp32"] else None,
                "cosine": r["fidelity"]["cosine"], "max_abs": r["fidelity"]["max_abs"],
                "size_mb": round(r["size_bytes"] / 1e6, 2),
                "simulator_ms": r["simulator_ms_per_image"], "fits": r["fits"],
                "memory_mib": None if not r["memory_bytes"] else
                {k: round(v / 2**20, 2) for k, v in r["memory_bytes"].items()},
                "meets_cosine_target": r["fidelity"]["cosine"] >= 0.99,
                "export_seconds": r["seconds"]})
    finally:
        cleanup(tmp)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return
    for row in rows:
        memory = f", memory {row['memory_mib']}" if row["memory_mib"] else ""
        print(f"{row['target']}: mAP50 {row['map50']:.4f} vs FP32 {row['map50_fp32']:.4f} "
              f"({row['map50_points_lost']} points lost, ratio {row['map50_ratio']}) on "
              f"{row['images']} images; cosine {row['cosine']:.5f} (target >= 0.99: "
              f"{'met' if row['meets_cosine_target'] else 'MISSED'}); {row['size_mb']} MB; "
              f"simulator {row['simulator_ms']:.0f} ms/image{memory}")


if __name__ == "__main__":
    main()
