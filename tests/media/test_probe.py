from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import demo_images
from workbench.media.probe import probe, probe_file


def test_real_jpeg_header_and_hash() -> None:
    path = demo_images()[0]
    info = probe_file(path)
    with Image.open(path) as im:
        assert (info.width, info.height) == im.size
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.mime_type == "image/jpeg"
    assert info.num_channels == 3
    assert info.error is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"not an image at all", "unreadable image"),
    ],
)
def test_bad_bytes(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    assert message in (probe_file(p).error or "")


def test_truncated_jpeg_and_png(tmp_path: Path) -> None:
    data = demo_images()[0].read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    assert "truncated JPEG" in (probe_file(tmp_path / "t.jpg").error or "")
    Image.new("RGB", (32, 16), (1, 2, 3)).save(tmp_path / "ok.png")
    png = (tmp_path / "ok.png").read_bytes()
    assert probe_file(tmp_path / "ok.png").error is None
    (tmp_path / "t.png").write_bytes(png[:-20])
    assert "truncated PNG" in (probe_file(tmp_path / "t.png").error or "")


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read file" in (probe_file(tmp_path / "nope.jpg").error or "")


def test_probe_many_keeps_order() -> None:
    paths = demo_images(n=80)
    infos = probe(paths)
    assert [i.sha256 for i in infos] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


@pytest.mark.parametrize(("mode", "fmt", "channels"), [
    ("RGB", "JPEG", 3), ("L", "JPEG", 1), ("RGB", "PNG", 3), ("RGBA", "PNG", 4), ("L", "PNG", 1),
    ("P", "PNG", 3), ("RGB", "BMP", 3),
])
def test_header_fast_path_agrees_with_pil(tmp_path: Path, mode: str, fmt: str,
                                          channels: int) -> None:
    p = tmp_path / f"x.{fmt.lower()}"
    Image.new(mode, (37, 23)).save(p, format=fmt)
    info = probe_file(p)
    assert (info.width, info.height, info.num_channels, info.error) == (37, 23, channels, None)


def test_header_fast_path_on_every_demo_image() -> None:
    paths = sorted(Path(demo_images()[0]).parent.parent.parent.glob("*/images/*.jpg"))
    assert len(paths) == 638
    for info, path in zip(probe(paths), paths, strict=True):
        with Image.open(path) as im:
            assert (info.width, info.height) == im.size, path


def test_unreadable_bytes_after_ultralytics_patched_pil(tmp_path: Path) -> None:
    """Ultralytics wraps PIL.Image.open to fetch pi-heif on unknown files; probing must not."""
    import ultralytics.utils.patches  # noqa: F401  (applies the patch)
    from PIL import Image

    assert Image.open.__module__ == "ultralytics.utils.patches"
    p = tmp_path / "x.jpg"
    p.write_bytes(b"not an image at all")
    assert "unreadable image" in (probe_file(p).error or "")
