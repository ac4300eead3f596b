"""INT8 against FP32 ONNX on this CPU: host latency, size, mAP50 and output fidelity.

Target (issue 7): INT8 (ONNX Runtime) latency <= 0.7x FP32, and it loses <= 2 mAP50 points.
Both models come from the shipped `yolov8n-224.pt` and run in the same process, one image per
call, one thread each, over the 127 demo validation images (which that model never saw).

    .venv/bin/python benchmarks/bench_export.py [--calibration-count 100] [--json]
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
    parser.add_argument("--calibration-count", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from workbench.deployment.exporting import ExportConfig, export_model
    from workbench.ingestion.ingest import ingest

    names = ["fish", "jellyfish", "penguin", "puffin", "shark", "starfish", "stingray"]
    ws, tmp = make_workspace(names)
    try:
        ingest(ws, DEMO / "data.yaml", "yolo")
        weights = str(DEMO / "weights" / "yolov8n-224.pt")
        fp32 = export_model(ws, ExportConfig(run=weights, target="onnx"))
        int8 = export_model(ws, ExportConfig(run=weights, target="onnx-int8",
                                             calibration_count=args.calibration_count,
                                             accept_drop=True))  # measure, even if refused
    finally:
        cleanup(tmp)
    report = {
        "images": int8["val"]["images"],
        "fp32_ms": int8["latency_ms_fp32"], "int8_ms": int8["latency_ms"],
        "latency_ratio": round(int8["latency_ms"] / int8["latency_ms_fp32"], 3),
        "fp32_mb": round(fp32["size_bytes"] / 1e6, 2),
        "int8_mb": round(int8["size_bytes"] / 1e6, 2),
        "map50_fp32": int8["map50_fp32"], "map50_int8": int8["map50"],
        "map50_points_lost": round(100 * (int8["map50_fp32"] - int8["map50"]), 2),
        "cosine": int8["fidelity"]["cosine"], "max_abs": int8["fidelity"]["max_abs"],
        "calibration": int8["calibration"],
    }
    report["meets_targets"] = report["latency_ratio"] <= 0.7 and report["map50_points_lost"] <= 2
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"{report['images']} val images, 1 image per call, 1 thread")
    print(f"FP32 ONNX: {report['fp32_ms']:.1f} ms/image, {report['fp32_mb']} MB, mAP50 "
          f"{report['map50_fp32']:.4f}")
    print(f"INT8 ONNX: {report['int8_ms']:.1f} ms/image, {report['int8_mb']} MB, mAP50 "
          f"{report['map50_int8']:.4f} (cosine {report['cosine']:.5f})")
    print(f"latency ratio {report['latency_ratio']} (target <= 0.7), mAP50 points lost "
          f"{report['map50_points_lost']} (target <= 2): "
          f"{'met' if report['meets_targets'] else 'MISSED'}")


if __name__ == "__main__":
    main()
