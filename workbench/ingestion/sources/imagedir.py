"""A folder of unlabeled images: the active-learning pool (``status=unlabeled``, ``split=pool``)."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SourceError
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions, list_images


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Every image under ``path`` (recursively), unlabeled."""
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder")
    batch = SourceBatch()
    for image_path in list_images(path):
        batch.records.append(ImageRecord(image_path.resolve(), str(image_path.relative_to(path)),
                                         labeled=False, split="pool"))
    if not batch.records:
        raise SourceError(f"{path}: found no images (.jpg, .png, .bmp, .webp, .tif)")
    return batch
