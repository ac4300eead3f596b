"""Read image files once: content hash, size from the header, truncation check.

The check is cheap: the header is parsed without decoding pixels, and JPEG/PNG files must end
with their end marker (a truncated download or copy does not). Other formats are decoded fully.
Sizes are the displayed ones: the EXIF orientation tag is read from the header too.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from workbench.media.orientation import displayed_size, jpeg_segments, read_orientation

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp",
         "TIFF": "image/tiff", "GIF": "image/gif", "MPO": "image/jpeg"}
_CHANNELS = {"1": 1, "L": 1, "P": 1, "I;16": 1, "I": 1, "F": 1, "LA": 2, "RGB": 3, "YCbCr": 3,
             "CMYK": 4, "RGBA": 4}


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`probe` learned about one image.

    Attributes:
        sha256: hex digest of the file's bytes.
        width: pixels; ``height``: pixels, both as *displayed* (EXIF orientation applied:
            orientations 5-8 swap the stored width and height); ``size_bytes``: file size.
        mime_type: e.g. ``image/jpeg``; ``num_channels``: 1, 3 or 4.
        error: why the image is unusable, or None.
        orientation: the EXIF orientation tag, 1-8 (1 when absent or malformed); see
            :mod:`workbench.media.orientation`.
    """

    sha256: str
    width: int
    height: int
    size_bytes: int
    mime_type: str
    num_channels: int
    error: str | None = None
    orientation: int = 1


_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def _jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """``(width, height, channels)`` from a JPEG's start-of-frame marker, or None."""
    for marker, pos, _length in jpeg_segments(data):
        if marker in _SOF:
            if pos + 10 > len(data):
                return None
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return width, height, data[pos + 9]
    return None


def _fast_header(data: bytes) -> tuple[str, int, int, int] | None:
    """Format, size and channels of a JPEG or PNG without PIL, when well-formed."""
    if data[:3] == b"\xff\xd8\xff":
        found = _jpeg_header(data)
        if found and b"\xff\xd9" in data[-1024:]:
            return ("image/jpeg", *found)
    elif data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and b"IEND" in data[-32:]:
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        return "image/png", width, height, _PNG_CHANNELS.get(data[25], 3)
    return None


def pil_open(fp: Any) -> Any:
    """``PIL.Image.open`` as Pillow ships it.

    Importing Ultralytics replaces ``Image.open`` with a wrapper that, on an unidentifiable
    file, tries to install and import ``pi-heif`` (a download at run time, then an
    ImportError offline). Probing must report such files as unreadable instead.
    """
    opener = Image.open
    if getattr(opener, "__module__", "") == "ultralytics.utils.patches":
        import sys

        opener = sys.modules["ultralytics.utils.patches"]._image_open
    return opener(fp)


def probe_bytes(data: bytes) -> ImageInfo:
    """Hash and inspect image bytes (JPEG/PNG headers parsed directly; others with PIL)."""
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageInfo(digest, 0, 0, 0, "", 0, "empty file")
    fast = _fast_header(data)
    if fast and fast[1] > 0 and fast[2] > 0:
        mime, width, height, channels = fast
        turn = read_orientation(data)
        return ImageInfo(digest, *displayed_size(width, height, turn), len(data), mime, channels,
                         orientation=turn)
    try:
        with pil_open(io.BytesIO(data)) as im:
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
    turn = read_orientation(data)
    return ImageInfo(digest, *displayed_size(width, height, turn), len(data),
                     _MIME.get(fmt, f"image/{fmt.lower()}"), _CHANNELS.get(mode, 3),
                     orientation=turn)


def probe_file(path: Path) -> ImageInfo:
    """Read ``path`` and inspect it (errors are returned, not raised)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ImageInfo("", 0, 0, 0, "", 0, f"cannot read file: {exc.strerror or exc}")
    return probe_bytes(data)


def probe(paths: list[Path], workers: int = min(4, os.cpu_count() or 2)) -> list[ImageInfo]:
    """Probe many images with a thread pool (file reads and hashing release the GIL).

    Args:
        paths: image files.
        workers: threads.

    Returns:
        One :class:`ImageInfo` per path, in order.
    """
    if len(paths) < 64:
        return [probe_file(p) for p in paths]
    size = -(-len(paths) // (workers * 4))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda chunk: [probe_file(p) for p in chunk], chunks)
        return [info for part in parts for info in part]
