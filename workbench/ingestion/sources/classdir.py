"""Class folders: ``ROOT/<class>/*.jpg`` (or ``ROOT/<split>/<class>/*.jpg``).

Each image gets one box covering the whole image (YOLO ``0.5 0.5 1.0 1.0``) of its folder's
class, the layout used to train a YOLO detector as a classifier.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SourceError
from workbench.media.records import (
    ImageRecord,
    SourceBatch,
    SourceOptions,
    list_images,
    normalize_split,
)


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse class folders; see the module docstring."""
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder of class folders")
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs and all(normalize_split(p.name) for p in subdirs):
        roots = [(p, normalize_split(p.name)) for p in subdirs]
    else:
        roots = [(path, None)]
    batch = SourceBatch()
    names: set[str] = set()
    for split_root, split in roots:
        class_dirs = sorted(p for p in split_root.iterdir()
                            if p.is_dir() and not p.name.startswith("."))
        for loose in list_images(split_root, recursive=False):
            batch.drop("image-outside-class-folder", loose,
                        "image is not inside a class folder; move it into one")
        for class_dir in class_dirs:
            for image_path in list_images(class_dir):
                index = len(batch.records)
                batch.records.append(ImageRecord(
                    image_path.resolve(), str(image_path.relative_to(path)),
                    labeled=not options.unlabeled,
                    split="pool" if options.unlabeled else split))
                if not options.unlabeled:
                    batch.boxes.add(index, class_dir.name, (0.0, 0.0, 1.0, 1.0), str(class_dir))
                    names.add(class_dir.name)
    if not batch.records and not batch.issues:
        raise SourceError(f"{path}: found no images in class folders")
    batch.class_names = sorted(names)
    return batch
