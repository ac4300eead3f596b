"""Square crops of boxes out of image files, in the frame the boxes were drawn in.

Stored boxes are relative to the *displayed* image (EXIF orientation applied, see
:mod:`workbench.media.orientation`), so each image is decoded once, turned upright by its EXIF
tag and then cropped for all of its boxes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["crop_boxes"]


def crop_boxes(paths: list[str], image: npt.ArrayLike, xywhn: npt.ArrayLike, size: int,
               context: float = 0.1, min_box: float = 0.0
               ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Crop boxes with some context and resize them to ``size`` x ``size``.

    Args:
        paths: the image files.
        image: ``(M,)`` index into ``paths`` of each box.
        xywhn: ``(M, 4)`` relative ``x, y, w, h`` (top-left corner) boxes.
        size: the side of the square crops in pixels.
        context: margin added on each side, as a share of the box's width / height.
        min_box: boxes whose longer side is below this many pixels are skipped.

    Returns:
        ``(K, 3, size, size)`` float32 RGB crops in ``[0, 1]`` and the ``(K,)`` indices of the
        boxes they come from (boxes skipped as too small or not finite are left out).

    Raises:
        OSError: an image cannot be read.
    """
    from PIL import Image, ImageOps

    index = np.asarray(image, dtype=np.int64)
    boxes = np.asarray(xywhn, dtype=np.float64).reshape(-1, 4)
    crops: list[np.ndarray] = []
    kept: list[int] = []
    for k in np.unique(index):
        with Image.open(paths[int(k)]) as img:
            rgb = ImageOps.exif_transpose(img).convert("RGB")
        w, h = rgb.size
        for j in np.flatnonzero(index == k).tolist():
            x, y, bw, bh = boxes[j] * (w, h, w, h)
            if not np.isfinite([x, y, bw, bh]).all() or max(bw, bh) < max(min_box, 1e-9):
                continue
            mx, my = bw * context, bh * context
            left, top = max(0.0, x - mx), max(0.0, y - my)
            right, bottom = min(float(w), x + bw + mx), min(float(h), y + bh + my)
            if right <= left or bottom <= top:
                continue
            crop = rgb.resize((size, size), Image.Resampling.BILINEAR,
                              box=(left, top, right, bottom))
            crops.append(np.asarray(crop, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            kept.append(j)
    if not crops:
        return np.zeros((0, 3, size, size), np.float32), np.zeros(0, np.int64)
    return np.stack(crops), np.asarray(kept, dtype=np.int64)
