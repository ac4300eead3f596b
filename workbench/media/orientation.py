"""EXIF orientation: read the tag from file bytes without decoding, and apply it to pixels.

A camera stores the sensor's pixels and an EXIF tag (0x0112, values 1-8) saying how to turn
them for display. Browsers (the FiftyOne App, Label Studio), OpenCV's decoders and so
Ultralytics all show and train on the *displayed* image, so the workbench uses the displayed
orientation everywhere: :func:`read_orientation` finds the tag (JPEG APP1, PNG ``eXIf``,
WebP ``EXIF`` chunk), :func:`displayed_size` turns the stored size into the displayed one and
:func:`orient_array` turns decoded pixels. A missing or malformed tag means 1 (as stored).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

ORIENTATION_TAG = 0x0112
MAX_IFD_ENTRIES = 512  # a real IFD0 has a few dozen; anything more is garbage
_EXIF_PREFIX = b"Exif\x00\x00"


def _tiff_orientation(tiff: bytes) -> int:
    """The orientation tag of a TIFF structure's first IFD (the EXIF payload), or 1."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order: Literal["little", "big"] = "little" if tiff[:2] == b"II" else "big"
    if int.from_bytes(tiff[2:4], order) != 42:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd < 8 or ifd + 2 > len(tiff):
        return 1
    count = min(int.from_bytes(tiff[ifd:ifd + 2], order), MAX_IFD_ENTRIES)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            return 1
        if int.from_bytes(tiff[entry:entry + 2], order) != ORIENTATION_TAG:
            continue
        kind = int.from_bytes(tiff[entry + 2:entry + 4], order)
        if kind == 3:  # SHORT: the value sits in the first two bytes of the value field
            value = int.from_bytes(tiff[entry + 8:entry + 10], order)
        elif kind == 4:  # LONG (seen from some writers)
            value = int.from_bytes(tiff[entry + 8:entry + 12], order)
        else:
            return 1
        return value if 1 <= value <= 8 else 1
    return 1


def _exif_payload(chunk: bytes) -> bytes:
    """An EXIF block without its optional ``Exif\\0\\0`` prefix."""
    return chunk[len(_EXIF_PREFIX):] if chunk.startswith(_EXIF_PREFIX) else chunk


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, position, length)`` of a JPEG's marker segments, in order.

    Stand-alone markers (SOI, TEM, RST) and fill bytes are skipped; the walk ends after the
    start of scan or end of image, at a segment length below 2, or at a byte that is not a
    marker (a malformed file), so it never reads past what the header describes.
    """
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        yield marker, pos, length
        if marker in (0xD9, 0xDA) or length < 2:
            return
        pos += 2 + length


def _jpeg_exif(data: bytes) -> bytes | None:
    """The first APP1 ``Exif`` segment's TIFF payload of a JPEG, or None (stops at SOF/SOS)."""
    for marker, pos, length in jpeg_segments(data):
        start_of_frame = 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)
        if length < 2 or marker in (0xD9, 0xDA) or start_of_frame:
            return None
        if marker == 0xE1 and data[pos + 4:pos + 10] == _EXIF_PREFIX:
            return data[pos + 10:pos + 2 + length]
    return None


def _png_exif(data: bytes) -> bytes | None:
    """The ``eXIf`` chunk of a PNG before its image data, or None."""
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"eXIf":
            return _exif_payload(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    return None


def _webp_exif(data: bytes) -> bytes | None:
    """The ``EXIF`` chunk of a WebP (RIFF) file, or None."""
    pos, n = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while pos + 8 <= n:
        kind = data[pos:pos + 4]
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        if kind == b"EXIF":
            return _exif_payload(data[pos + 8:pos + 8 + length])
        pos += 8 + length + (length & 1)
    return None


def read_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of JPEG, PNG or WebP bytes; 1 when absent or malformed.

    Only headers are parsed (no decode); every offset is bounds-checked, so truncated or
    garbage EXIF yields 1 rather than an error. Other formats report 1.
    """
    try:
        if data[:3] == b"\xff\xd8\xff":
            tiff = _jpeg_exif(data)
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            tiff = _png_exif(data)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            tiff = _webp_exif(data)
        else:
            return 1
        return _tiff_orientation(tiff) if tiff else 1
    except (IndexError, ValueError):  # defensive: slicing never raises, but stay total
        return 1


def swaps_axes(orientation: int) -> bool:
    """Whether displaying turns the image by 90° (orientations 5-8 swap width and height)."""
    return orientation in (5, 6, 7, 8)


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """``(width, height)`` as displayed, from the stored size and the orientation."""
    return (height, width) if swaps_axes(orientation) else (width, height)


def orient_array(img: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels ``(H, W, ...)`` turned to the displayed orientation (what
    ``PIL.ImageOps.exif_transpose`` does), as a view where possible.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` pixels as stored in the file.
        orientation: the EXIF orientation, 1-8 (anything else is treated as 1).

    Returns:
        ``(H', W', ...)`` displayed pixels; ``H' = W`` and ``W' = H`` for orientations 5-8.
    """
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:  # transpose
        return np.swapaxes(img, 0, 1)
    if orientation == 6:  # rotate 90° clockwise
        return np.swapaxes(img, 0, 1)[:, ::-1]
    if orientation == 7:  # transverse
        return np.swapaxes(img, 0, 1)[::-1, ::-1]
    if orientation == 8:  # rotate 90° counter-clockwise
        return np.swapaxes(img, 0, 1)[::-1]
    return img
