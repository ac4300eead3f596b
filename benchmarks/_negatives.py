"""Negative images made from labeled ones: every ground-truth box painted out.

For hard-negative mining on data that has no folder of empty scenes: each box (with a margin)
is filled with the image's median colour, so what is left is background the model should not
fire on, and whatever it still fires on is a real hard negative (tanks, rocks, glare, and the
painted patches themselves). Used by ``bench_mining.py`` and the mining tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def paint_out_boxes(image: Path, label_file: Path, out: Path, margin: float = 0.15) -> Path:
    """Write ``image`` with every YOLO box of ``label_file`` filled, as ``out`` (JPEG).

    Args:
        image: the source image.
        label_file: its YOLO label file (``cls cx cy w h`` relative rows).
        out: the JPEG to write.
        margin: extra share of each box's size painted on each side.
    """
    from PIL import Image, ImageOps

    with Image.open(image) as img:
        rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB")).copy()
    h, w = rgb.shape[:2]
    fill = np.median(rgb.reshape(-1, 3), axis=0).astype(np.uint8)
    rows = [r.split() for r in label_file.read_text().splitlines() if r.strip()]
    for _, cx, cy, bw, bh in (r[:5] for r in rows if len(r) >= 5):
        x, y, ww, hh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
        ww, hh = ww * (1 + 2 * margin), hh * (1 + 2 * margin)
        x0, x1 = int(max(0, x - ww / 2)), int(min(w, x + ww / 2 + 1))
        y0, y1 = int(max(0, y - hh / 2)), int(min(h, y + hh / 2 + 1))
        rgb[y0:y1, x0:x1] = fill
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(out, quality=90)
    return out


def make_negatives(images: list[Path] | Path, labels_dir: Path, out_dir: Path, n: int,
                   seed: int = 0) -> list[Path]:
    """``n`` painted-out negatives of images drawn (seeded) from ``images`` (a list, or every
    ``*.jpg`` of a folder); their YOLO labels are in ``labels_dir``."""
    images = sorted(images.glob("*.jpg")) if isinstance(images, Path) else sorted(images)
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(images), min(n, len(images)), replace=False).tolist())
    return [paint_out_boxes(images[i], labels_dir / f"{images[i].stem}.txt",
                            out_dir / f"neg-{images[i].stem}.jpg") for i in picked]
