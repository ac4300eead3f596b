"""Weighted boxes fusion of 3 runs x N images x 10 boxes: workbench's numpy WBF against a
straightforward per-image Python loop (target: >= 10x faster).

Members are synthetic but detector-shaped (seeded): each image has 10 objects of 5 classes;
each member finds most of them with jittered corners and its own confidences, misses some and
adds a few false positives. Both implementations must agree on the first images (asserted).

    .venv/bin/python benchmarks/bench_fusion.py --images 100000 [--members 3] [--boxes 10]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from workbench.core.fusion import weighted_boxes_fusion
from workbench.core.nms import box_iou
from workbench.core.types import Predictions


def make_members(n_images: int, n_boxes: int, n_members: int, n_classes: int,
                 seed: int = 0) -> list[Predictions]:
    """Detector-shaped prediction sets of the same images."""
    rng = np.random.default_rng(seed)
    n = n_images * n_boxes
    wh = rng.uniform(0.03, 0.4, (n, 2))
    xy = rng.uniform(0.0, 1.0, (n, 2)) * (1 - wh)
    gt = np.c_[xy, xy + wh]
    gt_cls = rng.integers(0, n_classes, n)
    image = np.repeat(np.arange(n_images), n_boxes)
    members = []
    for _ in range(n_members):
        found = rng.random(n) < 0.85
        jitter = rng.normal(0, 0.02, (n, 4)) * np.repeat(wh, 2, axis=1)
        boxes = np.clip(gt + jitter, 0, 1)
        n_fp = n // 10
        fp_wh = rng.uniform(0.02, 0.3, (n_fp, 2))
        fp_xy = rng.uniform(0, 1, (n_fp, 2)) * (1 - fp_wh)
        xyxy = np.r_[boxes[found], np.c_[fp_xy, fp_xy + fp_wh]]
        conf = np.r_[rng.beta(5, 2, found.sum()), rng.beta(2, 5, n_fp)]
        cls = np.r_[gt_cls[found], rng.integers(0, n_classes, n_fp)]
        img = np.r_[image[found], rng.integers(0, n_images, n_fp)]
        order = np.argsort(img, kind="stable")
        members.append(Predictions(xyxy[order], conf[order], cls[order], img[order]))
    return members


def loop_wbf(members: list[Predictions], weights: list[float], iou: float = 0.55
             ) -> tuple[Predictions, np.ndarray]:
    """Baseline: WBF one image and one class at a time, boxes in Python lists."""
    w = np.asarray(weights, dtype=float)
    n_images = max((int(m.image_index.max()) + 1 for m in members if len(m)), default=0)
    bounds = [np.searchsorted(m.image_index, np.arange(n_images + 1)) for m in members]
    out_box, out_conf, out_cls, out_img, out_agree = [], [], [], [], []
    for img in range(n_images):
        entries = []
        for t, m in enumerate(members):
            lo, hi = bounds[t][img], bounds[t][img + 1]
            for j in range(lo, hi):
                entries.append((float(m.confidence[j]) * w[t], m.xyxy[j], int(m.class_id[j]), t))
        for c in sorted({e[2] for e in entries}):
            boxes = [e for e in entries if e[2] == c]
            boxes.sort(key=lambda e: (-e[0], *e[1].tolist()))
            clusters: list[list[tuple[float, np.ndarray, int, int]]] = []
            fused: list[np.ndarray] = []
            for e in boxes:
                best = -1
                if fused:
                    ious = box_iou(e[1][None], np.asarray(fused))[0]
                    k = int(ious.argmax())
                    if ious[k] > iou:
                        best = k
                if best < 0:
                    clusters.append([e])
                    fused.append(e[1].copy())
                else:
                    clusters[best].append(e)
                    s = np.asarray([b[0] for b in clusters[best]])
                    fused[best] = (s[:, None] * np.asarray([b[1] for b in clusters[best]])
                                   ).sum(0) / s.sum()
            for cl, box in zip(clusters, fused, strict=True):
                s = np.asarray([b[0] for b in cl])
                out_box.append(box)
                out_conf.append(s.mean() * min(len(w), len(cl)) / w.sum())
                out_cls.append(c)
                out_img.append(img)
                out_agree.append(len({b[3] for b in cl}))
    return (Predictions(np.asarray(out_box).reshape(-1, 4), out_conf, out_cls, out_img),
            np.asarray(out_agree))


def canon(p: Predictions, agreement: np.ndarray) -> np.ndarray:
    rows = np.c_[p.image_index, p.class_id, p.confidence, p.xyxy, agreement]
    return rows[np.lexsort(rows.T[::-1])]


def subset(members: list[Predictions], n_images: int) -> list[Predictions]:
    out = []
    for m in members:
        k = int(np.searchsorted(m.image_index, n_images))
        out.append(Predictions(m.xyxy[:k], m.confidence[:k], m.class_id[:k], m.image_index[:k]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    members = make_members(args.images, args.boxes, args.members, args.classes)
    weights = [1.0 + 0.5 * i for i in range(args.members)]
    small = subset(members, min(args.images, 300))
    ours = weighted_boxes_fusion(small, weights)
    ref = loop_wbf(small, weights)
    np.testing.assert_allclose(canon(*ours), canon(*ref), atol=1e-9)

    t0 = time.perf_counter()
    fused, agreement = weighted_boxes_fusion(members, weights)
    t_numpy = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_fused, _ = loop_wbf(members, weights)
    t_loop = time.perf_counter() - t0
    assert len(ref_fused) == len(fused)
    result = {
        "images": args.images, "members": args.members,
        "boxes_in": int(sum(len(m) for m in members)), "boxes_out": len(fused),
        "mean_agreement": float(agreement.mean()) if len(agreement) else 0.0,
        "numpy_s": round(t_numpy, 3), "loop_s": round(t_loop, 3),
        "speedup": round(t_loop / t_numpy, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>15}: {value}")


if __name__ == "__main__":
    main()
