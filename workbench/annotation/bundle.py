"""Read returned annotation files from a folder or a zip, safely.

A zip is checked before anything is read from it: no absolute paths, no ``..``, no links,
no encrypted entries, only names under the folders a caller allows, and caps on the entry
count, the total uncompressed size and the compression ratio (zip bombs). Nothing in a
bundle is ever executed; JSON and XML are read with size limits.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from workbench.errors import SourceError
from workbench.media.coco import decode_json

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """Caps applied to a zip before it is read.

    Attributes:
        max_entries: most entries (files and folders).
        max_total_bytes: most uncompressed bytes over all entries.
        max_ratio: highest uncompressed / compressed ratio of an entry larger than 1 MiB.
        max_json_bytes: largest JSON or XML document read.
    """

    max_entries: int = 200_000
    max_total_bytes: int = 20 * 1024**3
    max_ratio: float = 200.0
    max_json_bytes: int = 512 * 1024**2


class Bundle(Protocol):
    """Files of a returned package or a tool's export, by relative POSIX name."""

    label: str
    limits: ZipLimits

    def names(self) -> list[str]:
        """Every file's relative name (``a/b.txt``), sorted."""
        ...

    def read(self, name: str) -> bytes:
        """The bytes of one file."""
        ...


def _bad_name(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash"
    if ".." in PurePosixPath(name).parts:
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL byte"
    return None


class ZipBundle:
    """A validated zip file. Raises :class:`SourceError` naming the first unsafe entry."""

    def __init__(self, path: Path, limits: ZipLimits | None = None,
                 allowed: tuple[str, ...] | None = None) -> None:
        """Open and check ``path``.

        Args:
            path: the zip file.
            limits: the caps (default :class:`ZipLimits`).
            allowed: top-level names or folder prefixes (``"images/"``) entries must fall
                under; None allows any safe name.
        """
        self.label = str(path)
        self.limits = limits or ZipLimits()
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"{path}: not a readable zip file ({exc})") from exc
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_entries:
            raise SourceError(f"{path}: {len(infos)} entries, more than the limit of "
                              f"{self.limits.max_entries} (raise it with --max-zip-entries)")
        total = 0
        self._files: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            why = _bad_name(name)
            mode = info.external_attr >> 16
            if why is None and stat.S_ISLNK(mode):
                why = "is a symbolic link"
            if why is None and info.flag_bits & 0x1:
                why = "is encrypted"
            if why is None and allowed is not None and not info.is_dir() and not any(
                    name == a or (a.endswith("/") and name.startswith(a)) for a in allowed):
                why = f"is outside the expected names ({', '.join(allowed)})"
            if why is None and info.file_size > 1024**2 and (
                    info.file_size > self.limits.max_ratio * max(info.compress_size, 1)):
                why = (f"expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                       f"(limit {self.limits.max_ratio:.0f}); refusing a possible zip bomb")
            if why is not None:
                raise SourceError(f"{path}: entry {name!r} {why}; nothing was imported")
            total += info.file_size
            if total > self.limits.max_total_bytes:
                raise SourceError(
                    f"{path}: more than {self.limits.max_total_bytes} bytes uncompressed "
                    "(raise the limit with --max-zip-bytes if this is expected)")
            if not info.is_dir():
                self._files[name] = info

    def names(self) -> list[str]:
        return sorted(self._files)

    def read(self, name: str) -> bytes:
        info = self._files.get(name)
        if info is None:
            raise SourceError(f"{self.label}: no entry {name!r}")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise SourceError(f"{self.label}: entry {name!r} is damaged ({exc})") from exc


class DirBundle:
    """A folder (an unzipped package, or a tool's export). Links leaving it are skipped."""

    def __init__(self, path: Path, limits: ZipLimits | None = None) -> None:
        self.root = path.resolve()
        self.label = str(path)
        self.limits = limits or ZipLimits()

    def names(self) -> list[str]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in filenames:
                full = Path(dirpath) / f
                if full.is_symlink() and not full.resolve().is_relative_to(self.root):
                    continue
                found.append(full.relative_to(self.root).as_posix())
        return sorted(found)

    def read(self, name: str) -> bytes:
        if _bad_name(name):
            raise SourceError(f"{self.label}: refusing to read {name!r}")
        return (self.root / name).read_bytes()


class FileBundle(DirBundle):
    """One annotation file, seen as a bundle holding only that file."""

    def __init__(self, path: Path, limits: ZipLimits | None = None) -> None:
        super().__init__(path.parent, limits)
        self.only = path.name
        self.label = str(path)

    def names(self) -> list[str]:
        return [self.only]


def open_bundle(path: Path, limits: ZipLimits | None = None,
                allowed: tuple[str, ...] | None = None) -> Bundle:
    """A bundle for a zip file, a folder, or a single file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return DirBundle(path, limits)
    if zipfile.is_zipfile(path):
        return ZipBundle(path, limits, allowed)
    return FileBundle(path, limits)


def read_text(bundle: Bundle, name: str) -> str:
    """A text member, size-checked and decoded as UTF-8."""
    data = bundle.read(name)
    if len(data) > bundle.limits.max_json_bytes:
        raise SourceError(f"{bundle.label}: {name} is larger than the "
                          f"{bundle.limits.max_json_bytes} byte limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{bundle.label}: {name} is not UTF-8 text ({exc})") from exc


def read_json(bundle: Bundle, name: str) -> Any:
    """A JSON member, with an error naming the file, line and column."""
    return decode_json(read_text(bundle, name), f"{bundle.label}: {name}")
