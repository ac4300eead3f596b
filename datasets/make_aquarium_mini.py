"""Derive ``datasets/aquarium-mini`` from the full Aquarium dataset.

Every image of the original train/valid/test splits is downscaled so that its long
side is at most 416 px and re-encoded as JPEG; YOLO label files are copied unchanged
(their coordinates are relative, so they stay exact under a uniform resize).

Usage::

    python datasets/make_aquarium_mini.py ../shared/datasets/aquarium datasets/aquarium-mini
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

SPLITS = {"train": "train", "valid": "valid", "test": "test"}
MAX_SIDE = 416
QUALITY = 82


def convert(src: Path, dst: Path, max_side: int = MAX_SIDE, quality: int = QUALITY) -> int:
    """Write the downscaled copy of ``src`` into ``dst``; return the number of images."""
    count = 0
    for split in SPLITS.values():
        (dst / split / "images").mkdir(parents=True, exist_ok=True)
        (dst / split / "labels").mkdir(parents=True, exist_ok=True)
        for image_path in sorted((src / split / "images").iterdir()):
            with Image.open(image_path) as src_im:
                im = src_im.convert("RGB")
                scale = max_side / max(im.size)
                if scale < 1.0:
                    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                    im = im.resize(size, Image.Resampling.LANCZOS)
                im.save(dst / split / "images" / (image_path.stem + ".jpg"), quality=quality)
            label = src / split / "labels" / (image_path.stem + ".txt")
            if label.exists():
                shutil.copyfile(label, dst / split / "labels" / label.name)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    n = convert(args.src, args.dst)
    print(f"wrote {n} images to {args.dst}")


if __name__ == "__main__":
    main()
