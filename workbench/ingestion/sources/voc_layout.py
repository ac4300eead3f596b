"""Where a Pascal VOC source keeps its XML files, its images and its split lists.

Accepted layouts (``path`` is what ``workbench ingest --format voc`` is given):

- the devkit root: ``Annotations/`` + ``JPEGImages/`` [+ ``ImageSets/Main/{train,val,
  trainval,test}.txt``]; also a parent holding exactly one such root (``VOCdevkit/`` with
  ``VOC2012/``, or the folder above it), and the ``Annotations/`` folder itself;
- FiftyOne's ``VOCDetectionDataset`` export: ``data/`` (images) + ``labels/`` (XML), or its
  ``labels/`` folder;
- any folder of XML files (searched recursively) or one XML file, with the images in
  ``--images DIR``, else ``../JPEGImages`` and the XML folder itself.

``--images DIR`` always replaces the layout's image folders.
"""

from __future__ import annotations

import ntpath
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import SourceError

#: ``ImageSets/Main`` list -> the split its ids get (None: listed, but left for ``split``).
IMAGE_SETS: dict[str, str | None] = {"train": "train", "val": "val", "trainval": None,
                                     "test": "test"}


@dataclass(frozen=True)
class VocLayout:
    """A resolved VOC source.

    Attributes:
        kind: ``devkit``, ``fiftyone`` or ``xml`` (a folder of XML files, or one file).
        xml_dir: the annotations folder; source ids are XML paths relative to it.
        xml_files: the XML files, sorted.
        image_dirs: folders searched for each XML's image, in order.
        image_sets: ``ImageSets/Main`` of a devkit root, when it exists.
    """

    kind: str
    xml_dir: Path
    xml_files: list[Path]
    image_dirs: tuple[Path, ...]
    image_sets: Path | None = None

    def find_image(self, names: list[str]) -> Path | None:
        """The first existing ``dir / name`` over :attr:`image_dirs` x ``names``."""
        for folder in self.image_dirs:
            for name in names:
                candidate = (folder / name).resolve()
                if candidate.is_file():
                    return candidate
        return None

    def searched(self) -> str:
        """The image folders, for messages."""
        return ", ".join(str(d) for d in self.image_dirs)


def _devkit_root(folder: Path) -> bool:
    return (folder / "Annotations").is_dir()


def _fiftyone_root(folder: Path) -> bool:
    return (folder / "labels").is_dir() and not _devkit_root(folder)


def _is_root(folder: Path) -> bool:
    return _devkit_root(folder) or _fiftyone_root(folder)


def _nested_roots(folder: Path) -> list[Path]:
    """Devkit / FiftyOne roots one or two levels below ``folder`` (VOCdevkit/VOC2012)."""
    children = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    found = [d for d in children if _is_root(d)]
    if found:
        return found
    return [g for d in children for g in sorted(d.iterdir())
            if g.is_dir() and not g.name.startswith(".") and _is_root(g)]


def _xml_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.xml"))


def resolve(path: Path, images_dir: Path | None) -> VocLayout:
    """Find the annotations, image folders and split lists of the VOC source at ``path``.

    Raises:
        SourceError: no XML files; several devkit roots below ``path``; none of the image
            folders exists (the message names the folders searched).
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir() and not _is_root(path) and path.name in ("Annotations", "labels") \
            and _is_root(path.parent):
        path = path.parent
    if path.is_dir() and not _is_root(path) and not any(path.glob("*.xml")):
        roots = _nested_roots(path)
        if len(roots) > 1:
            raise SourceError(
                f"{path}: holds several VOC roots ({', '.join(str(r) for r in roots)}); "
                "ingest them one at a time")
        if roots:
            path = roots[0]
    if path.is_dir() and _devkit_root(path):
        sets = path / "ImageSets" / "Main"
        layout = VocLayout("devkit", path / "Annotations", _xml_files(path / "Annotations"),
                           (path / "JPEGImages",), sets if sets.is_dir() else None)
    elif path.is_dir() and _fiftyone_root(path):
        layout = VocLayout("fiftyone", path / "labels", _xml_files(path / "labels"),
                           (path / "data",))
    else:
        xml_dir = path.parent if path.is_file() else path
        files = [path] if path.is_file() else _xml_files(path)
        sibling = xml_dir.parent / "JPEGImages"
        dirs = (sibling, xml_dir) if sibling.is_dir() else (xml_dir,)
        layout = VocLayout("xml", xml_dir, files, dirs)
    if not layout.xml_files:
        raise SourceError(f"{path}: no VOC .xml annotation files found (looked in "
                          f"{layout.xml_dir})")
    if images_dir is not None:
        layout = VocLayout(layout.kind, layout.xml_dir, layout.xml_files, (images_dir,),
                           layout.image_sets)
    if not any(d.is_dir() for d in layout.image_dirs):
        raise SourceError(
            f"{path}: no image folder for the {layout.kind} layout; searched "
            f"{layout.searched()} (missing); put the images there or pass --images DIR")
    return layout


def path_basename(text: str) -> str:
    """The file name of a ``<path>`` written on any OS (``/`` or ``\\`` separators)."""
    return ntpath.basename(text.strip())


def read_image_sets(folder: Path) -> dict[str, list[str]]:
    """``{list name: ids}`` for each of :data:`IMAGE_SETS` present in ``ImageSets/Main``.

    A line is ``id`` (or ``id flag`` as in the per-class lists); blank lines are skipped.
    """
    lists: dict[str, list[str]] = {}
    for name in IMAGE_SETS:
        file = folder / f"{name}.txt"
        if file.is_file():
            lists[name] = [line.split()[0] for line in
                           file.read_text(encoding="utf-8", errors="replace").splitlines()
                           if line.strip()]
    return lists


def split_of(lists_with_id: set[str]) -> tuple[str | None, str | None]:
    """``(split, conflict)`` for an id listed in ``lists_with_id`` (names of :data:`IMAGE_SETS`).

    ``train``/``val``/``test`` give their split; ``trainval`` alone leaves it unassigned
    (``workbench split`` divides those images). Two of train/val/test, or trainval with test,
    is a conflict (returned as a message).
    """
    splits = {IMAGE_SETS[n] for n in lists_with_id} - {None}
    if len(splits) > 1 or ("trainval" in lists_with_id and "test" in splits):
        return None, " and ".join(f"{n}.txt" for n in sorted(lists_with_id))
    return (next(iter(splits)) if splits else None), None
