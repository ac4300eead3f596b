"""COCO detection documents workbench writes (pre-annotations, simulated annotators)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.annotation.manifest import PackageImage

#: Per image: labels ``(K,)``, relative ``[x, y, w, h]`` boxes ``(K, 4)``, scores ``(K,)``
#: or None for annotations.
ImageBoxes = tuple[Sequence[str], Sequence[Sequence[float]], Sequence[float] | None]


def coco_document(images: Sequence[PackageImage], classes: Sequence[str],
                  boxes: Sequence[ImageBoxes], info: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """A COCO detection document for package images; boxes in pixels of each image.

    Category ids are 1-based positions in ``classes``. Boxes with scores are marked as
    predictions (``score`` and ``workbench_prediction``), so they can never be imported as
    annotations.
    """
    cat = {c: k + 1 for k, c in enumerate(classes)}
    coco_images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for n, (im, (labels, xywhn, scores)) in enumerate(zip(images, boxes, strict=True), start=1):
        coco_images.append({"id": n, "file_name": im.file_name, "width": im.width,
                            "height": im.height, "sample_id": im.sample_id})
        for k, (label, (x, y, w, h)) in enumerate(zip(labels, xywhn, strict=True)):
            ann = {"id": len(anns) + 1, "image_id": n, "category_id": cat.get(label, 0),
                   "bbox": [x * im.width, y * im.height, w * im.width, h * im.height],
                   "area": w * im.width * h * im.height, "iscrowd": 0}
            if scores is not None:
                ann.update(score=scores[k], workbench_prediction=True)
            anns.append(ann)
    return {"info": info or {}, "images": coco_images, "annotations": anns,
            "categories": [{"id": v, "name": c} for c, v in cat.items()]}
