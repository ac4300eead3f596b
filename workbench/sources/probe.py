"""Read image files once: content hash, size from the header, truncation check.

The check is cheap: the header is parsed without decoding pixels, and JPEG/PNG files must end
with their end marker (a truncated download or copy does not). Other formats are decoded fully.
"""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp",
         "TIFF": "image/tiff", "GIF": "image/gif", "MPO": "image/jpeg"}
_CHANNELS = {"1": 1, "L": 1, "P": 1, "I;16": 1, "I": 1, "F": 1, "LA": 2, "RGB": 3, "YCbCr": 3,
             "CMYK": 4, "RGBA": 4}


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`probe` learned about one image.

    Attributes:
        sha256: hex digest of the file's bytes.
        width: pixels; ``height``: pixels; ``size_bytes``: file size.
        mime_type: e.g. ``image/jpeg``; ``num_channels``: 1, 3 or 4.
        error: why the image is unusable, or None.
    """

    sha256: str
    width: int
    height: int
    size_bytes: int
    mime_type: str
    num_channels: int
    error: str | None = None


def probe_bytes(data: bytes) -> ImageInfo:
    """Hash and inspect image bytes."""
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageInfo(digest, 0, 0, 0, "", 0, "empty file")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            width, height = im.size
            mode = im.mode
            if fmt in ("JPEG", "MPO"):
                if b"\xff\xd9" not in data[-1024:]:
                    raise OSError("truncated JPEG (no end-of-image marker)")
            elif fmt == "PNG":
                if b"IEND" not in data[-32:]:
                    raise OSError("truncated PNG (no IEND chunk)")
            else:
                im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return ImageInfo(digest, 0, 0, len(data), "", 0, f"unreadable image: {exc}")
    if width <= 0 or height <= 0:
        return ImageInfo(digest, 0, 0, len(data), "", 0, "image has zero size")
    return ImageInfo(digest, width, height, len(data), _MIME.get(fmt, f"image/{fmt.lower()}"),
                     _CHANNELS.get(mode, 3))


def probe_file(path: Path) -> ImageInfo:
    """Read ``path`` and inspect it (errors are returned, not raised)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ImageInfo("", 0, 0, 0, "", 0, f"cannot read file: {exc.strerror or exc}")
    return probe_bytes(data)


def probe(paths: list[Path], workers: int = 4) -> list[ImageInfo]:
    """Probe many images with a thread pool (file reads and hashing release the GIL).

    Args:
        paths: image files.
        workers: threads.

    Returns:
        One :class:`ImageInfo` per path, in order.
    """
    if len(paths) < 64:
        return [probe_file(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(probe_file, paths, chunksize=64))
