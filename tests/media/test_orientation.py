"""EXIF orientation: the tag read from headers, displayed sizes, and pixels turned as displayed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from tests.conftest import demo_images
from workbench.media.orientation import displayed_size, orient_array, read_orientation
from workbench.media.probe import probe_bytes, probe_file

#: The transpose that stores the displayed image so that orientation k shows it upright again
#: (the inverse of what ``ImageOps.exif_transpose`` does for k).
STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
         6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_270}


def oriented_jpeg(displayed: Image.Image, k: int, path: Path, quality: int = 95) -> Path:
    """Save ``displayed`` as a JPEG whose pixels are stored turned and whose EXIF orientation
    ``k`` turns them back: a viewer applying EXIF shows exactly ``displayed``."""
    method = STORE[k]
    stored = displayed if method is None else displayed.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = k
    stored.save(path, "JPEG", quality=quality, exif=exif.tobytes())
    return path


def _encoded(arr: np.ndarray, fmt: str, k: int | None) -> bytes:
    buf = io.BytesIO()
    kw = {}
    if k is not None:
        exif = Image.Exif()
        exif[0x0112] = k
        kw["exif"] = exif.tobytes()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


ARR = np.random.default_rng(0).integers(0, 255, (12, 20, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("k", range(1, 9))
def test_tag_is_read_from_headers_and_size_is_displayed(fmt: str, k: int) -> None:
    data = _encoded(ARR, fmt, k)
    assert read_orientation(data) == k
    info = probe_bytes(data)
    assert info.error is None and info.orientation == k
    with Image.open(io.BytesIO(data)) as im:
        assert (info.width, info.height) == ImageOps.exif_transpose(im).size
    assert (info.width, info.height) == ((12, 20) if k >= 5 else (20, 12))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_no_tag_means_as_stored(fmt: str) -> None:
    data = _encoded(ARR, fmt, None)
    assert read_orientation(data) == 1
    info = probe_bytes(data)
    assert (info.width, info.height, info.orientation) == (20, 12, 1)


@pytest.mark.parametrize("k", range(1, 9))
def test_orient_array_matches_pil_exif_transpose(k: int) -> None:
    with Image.open(io.BytesIO(_encoded(ARR, "PNG", k))) as im:  # lossless
        want = np.asarray(ImageOps.exif_transpose(im))
    got = orient_array(ARR, k)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert orient_array(ARR[:, :, 0], k).shape == want.shape[:2]
    assert displayed_size(20, 12, k) == (want.shape[1], want.shape[0])


def test_real_photo_displayed_equals_original(tmp_path: Path) -> None:
    src = demo_images()[0]
    with Image.open(src) as im:
        original = im.convert("RGB")
    for k in range(1, 9):
        path = oriented_jpeg(original, k, tmp_path / f"o{k}.jpg")
        info = probe_file(path)
        assert (info.width, info.height, info.orientation) == (*original.size, k)
        with Image.open(path) as im:
            shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.int16)
        assert np.abs(shown - np.asarray(original, dtype=np.int16)).mean() < 3


def _exif_jpeg(tiff: bytes) -> bytes:
    """A valid tiny JPEG with an APP1 segment holding ``tiff`` (any bytes)."""
    plain = _encoded(ARR, "JPEG", None)
    app1 = b"Exif\x00\x00" + tiff
    return plain[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + plain[2:]


def _ifd(order: bytes, entries: list[tuple[int, int, int, bytes]], count: int | None = None,
         offset: int = 8) -> bytes:
    end = "little" if order == b"II" else "big"
    head = order + (42).to_bytes(2, end) + offset.to_bytes(4, end)
    body = (len(entries) if count is None else count).to_bytes(2, end)
    for tag, kind, n, value in entries:
        body += tag.to_bytes(2, end) + kind.to_bytes(2, end) + n.to_bytes(4, end) + value
    return head + body + b"\x00\x00\x00\x00"


@pytest.mark.parametrize(("tiff", "want"), [
    (_ifd(b"MM", [(0x0112, 3, 1, b"\x00\x06\x00\x00")]), 6),  # big-endian
    (_ifd(b"II", [(0x010F, 2, 4, b"abc\x00"), (0x0112, 3, 1, b"\x08\x00\x00\x00")]), 8),
    (_ifd(b"II", [(0x0112, 4, 1, b"\x05\x00\x00\x00")]), 5),  # LONG instead of SHORT
    (_ifd(b"II", [(0x0112, 3, 1, b"\x09\x00\x00\x00")]), 1),  # out of range
    (_ifd(b"II", [(0x0112, 3, 1, b"\x00\x00\x00\x00")]), 1),  # zero
    (_ifd(b"II", [(0x0112, 2, 1, b"\x06\x00\x00\x00")]), 1),  # wrong type
    (_ifd(b"II", [(0x0112, 3, 1, b"\x06\x00\x00\x00")], count=65535), 6),  # count lies
    (_ifd(b"II", [(0x010F, 3, 1, b"\x06\x00\x00\x00")], count=65535), 1),  # runs off the end
    (_ifd(b"II", [], offset=4), 1),  # IFD inside the header
    (_ifd(b"II", [], offset=10 ** 9), 1),  # IFD beyond the data
    (b"XX\x2a\x00\x08\x00\x00\x00", 1),  # bad byte order
    (b"II\x2b\x00\x08\x00\x00\x00", 1),  # bad magic
    (b"II", 1),  # truncated
    (b"", 1),
])
def test_malformed_exif_never_crashes(tiff: bytes, want: int) -> None:
    data = _exif_jpeg(tiff)
    assert read_orientation(data) == want
    info = probe_bytes(data)
    assert info.error is None and info.orientation == want
    assert (info.width, info.height) == displayed_size(20, 12, want)


def test_app1_length_beyond_the_file_is_harmless() -> None:
    plain = _encoded(ARR, "JPEG", None)
    data = plain[:2] + b"\xff\xe1\xff\xff" + b"Exif\x00\x00II*\x00"  # truncated file
    assert read_orientation(data) == 1
    assert read_orientation(b"\xff\xd8\xff") == 1
    assert read_orientation(b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffeXIf") == 1
    assert read_orientation(b"RIFF\xff\xff\xff\xffWEBPEXIF\xff\xff\xff\xff") == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["JPEG", "PNG", "WEBP"]))
def test_garbage_exif_is_total(garbage: bytes, fmt: str) -> None:
    for data in (_exif_jpeg(garbage), _exif_jpeg(b"II*\x00\x08\x00\x00\x00" + garbage),
                 _encoded(ARR, fmt, 6)[:12] + garbage):
        assert 1 <= read_orientation(data) <= 8
