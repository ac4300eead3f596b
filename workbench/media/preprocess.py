"""Image loading and letterboxing exactly as Ultralytics does it at inference.

``cv2.imread`` (BGR) -> resize with ``INTER_LINEAR`` -> pad with 114 -> RGB -> CHW float32 / 255.
Pixels are turned to the displayed orientation (EXIF tag), the frame of the stored sizes and
boxes: decoded ignoring the tag, then turned by :func:`workbench.media.orientation.orient_array`
with the orientation the probe reads, so prediction never depends on the OpenCV build.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from workbench.core.letterbox import Letterbox
from workbench.errors import WorkbenchError
from workbench.media.orientation import orient_array, read_orientation


def read_bgr(path: str) -> np.ndarray | None:
    """``(H, W, 3)`` uint8 BGR pixels of an image file as displayed (EXIF orientation
    applied), or None when the file is missing or cannot be decoded."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if not data.size:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        return None
    turn = read_orientation(data.tobytes())
    return img if turn == 1 else np.ascontiguousarray(orient_array(img, turn))


#: ``(H, W, 3)`` uint8 pixels -> transformed pixels (a TTA pass; see
#: :mod:`workbench.prediction.tta`).
ImageFn = Callable[[np.ndarray], np.ndarray]


def load_letterboxed(path: str, size: int, transform: ImageFn | None = None
                     ) -> tuple[np.ndarray, Letterbox, int, int]:
    """One image as a ``(3, size, size)`` float32 array, its letterbox, width and height.

    ``transform`` (a TTA pass) is applied to the decoded pixels before letterboxing; the
    letterbox, width and height are then those of the transformed image (a quarter turn
    swaps width and height).
    """
    import cv2

    img = read_bgr(path)
    if img is None:
        raise WorkbenchError(f"cannot read image {path}; is the file missing or corrupt?")
    if transform is not None:
        img = np.ascontiguousarray(transform(img))
    h, w = img.shape[:2]
    box = Letterbox.fit(w, h, size)
    if (box.new_w, box.new_h) != (w, h):
        img = cv2.resize(img, (box.new_w, box.new_h), interpolation=cv2.INTER_LINEAR)
    bottom = size - box.new_h - box.top
    right = size - box.new_w - box.left
    img = cv2.copyMakeBorder(img, box.top, bottom, box.left, right, cv2.BORDER_CONSTANT,
                             value=(114, 114, 114))
    chw = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0
    return chw, box, w, h


def load_batch(paths: list[str], size: int, workers: int = 2, transform: ImageFn | None = None
               ) -> tuple[np.ndarray, list[Letterbox], list[tuple[int, int]]]:
    """``(B, 3, size, size)`` float32 batch, letterboxes and ``(width, height)`` per image
    (of the transformed images with ``transform``, see :func:`load_letterboxed`)."""
    if len(paths) > 1 and workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            items = list(pool.map(lambda p: load_letterboxed(p, size, transform), paths))
    else:
        items = [load_letterboxed(p, size, transform) for p in paths]
    return (np.stack([i[0] for i in items]), [i[1] for i in items], [(i[2], i[3]) for i in items])


def to_uint8(x: np.ndarray) -> np.ndarray:
    """A ``[0, 1]`` float batch back to the uint8 pixels it was made from (exact)."""
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def load_uint8(paths: list[str], size: int) -> np.ndarray:
    """``(B, 3, size, size)`` uint8 letterboxed RGB pixels: what NPU compilers calibrate on."""
    return to_uint8(load_batch(paths, size)[0])
