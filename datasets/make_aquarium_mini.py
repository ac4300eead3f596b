"""Derive ``datasets/aquarium-mini`` from the full Aquarium dataset.

Every image of the original train/valid/test splits is downscaled so that its long
side is at most 416 px and re-encoded as JPEG; YOLO label files are copied unchanged
(their coordinates are relative, so they stay exact under a uniform resize).

Usage::

    python datasets/make_aquarium_mini.py ../shared/datasets/aquarium datasets/aquarium-mini

It also writes ``demo/``: the seed/pool split of the train images that ``make demo`` uses.
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


def write_demo_lists(dst: Path, n_seed: int = 150) -> tuple[int, int]:
    """Split the train images into a labeled seed set and an unlabeled pool for ``make demo``.

    The seed starts with images that add a class not yet covered (so every class is in it),
    then follows file order; the rest of train is the pool. Writes ``dst/demo/{seed,pool}``
    ``.txt`` lists and the two data yamls. Returns ``(seed, pool)`` sizes.
    """
    train = sorted((dst / "train" / "images").glob("*.jpg"))
    seed: list[Path] = []
    covered: set[str] = set()
    for image in train:
        label = dst / "train" / "labels" / f"{image.stem}.txt"
        ids = {line.split()[0] for line in label.read_text().splitlines() if line.strip()}
        if ids - covered:
            seed.append(image)
            covered |= ids
    seed += [p for p in train if p not in seed][: n_seed - len(seed)]
    pool = [p for p in train if p not in seed]
    demo = dst / "demo"
    demo.mkdir(exist_ok=True)
    for name, images in (("seed", seed), ("pool", pool)):
        (demo / f"{name}.txt").write_text(
            "".join(f"../train/images/{p.name}\n" for p in sorted(images)))
    names = "['fish', 'jellyfish', 'penguin', 'puffin', 'shark', 'starfish', 'stingray']"
    (demo / "seed.yaml").write_text(
        "# make demo: the labeled seed set (part of train) + the original val and test splits\n"
        f"train: seed.txt\nval: ../valid/images\ntest: ../test/images\nnames: {names}\n")
    (demo / "pool.yaml").write_text(
        "# make demo: the rest of train, ingested with --unlabeled as the active-learning pool\n"
        f"train: pool.txt\nnames: {names}\n")
    return len(seed), len(pool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    n = convert(args.src, args.dst)
    seed, pool = write_demo_lists(args.dst)
    print(f"wrote {n} images to {args.dst}; demo seed {seed}, pool {pool}")


if __name__ == "__main__":
    main()
