"""Safe reading of returned zips: unsafe names, links, bombs and caps are refused."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from workbench.annotation.bundle import DirBundle, ZipBundle, ZipLimits, open_bundle, read_json
from workbench.errors import SourceError


def _zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(("name", "why"), [
    ("../evil.json", "'..'"),
    ("/abs/evil.json", "absolute"),
    ("C:/evil.json", "absolute"),
    ("images/../../x.jpg", "'..'"),
    ("a\\b.json", "backslash"),
])
def test_unsafe_names_are_refused(tmp_path: Path, name: str, why: str) -> None:
    z = _zip(tmp_path / "p.zip", {"manifest.json": b"{}", name: b"x"})
    with pytest.raises(SourceError, match=why):
        ZipBundle(z)


def test_links_are_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "p.zip", {"manifest.json": b"{}"}, link="images/passwd.jpg")
    with pytest.raises(SourceError, match="symbolic link"):
        ZipBundle(z)


def test_entry_count_and_size_caps(tmp_path: Path) -> None:
    z = _zip(tmp_path / "p.zip", {f"images/{k}.jpg": b"abc" for k in range(20)})
    with pytest.raises(SourceError, match="more than the limit of 10"):
        ZipBundle(z, ZipLimits(max_entries=10))
    with pytest.raises(SourceError, match="bytes uncompressed"):
        ZipBundle(z, ZipLimits(max_total_bytes=30))
    assert len(ZipBundle(z).names()) == 20


def test_zip_bomb_ratio_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "bomb.zip", {"annotations.coco.json": b"\0" * (50 * 1024**2)})
    with pytest.raises(SourceError, match="zip bomb"):
        ZipBundle(z)


def test_json_size_limit_and_position_in_errors(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"images": [\n  1,,\n]}')
    b = open_bundle(tmp_path / "a.json")
    with pytest.raises(SourceError, match=r"a.json:2: not valid JSON"):
        read_json(b, "a.json")
    (tmp_path / "b.json").write_text("[" + "1," * 100 + "1]")
    small = open_bundle(tmp_path / "b.json", ZipLimits(max_json_bytes=50))
    with pytest.raises(SourceError, match="byte limit"):
        read_json(small, "b.json")


def test_folder_bundle_skips_links_leaving_it(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "annotations.coco.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    (root / "leak.json").symlink_to(tmp_path / "secret.json")
    assert DirBundle(root).names() == ["annotations.coco.json"]
