"""The manifest of an annotation package: which images, which classes, from which workspace."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.annotation.bundle import Bundle, read_json
from workbench.errors import SourceError

FORMAT = "workbench-annotation-package"
VERSION = 1
MANIFEST = "manifest.json"
_SAMPLE_ID = re.compile(r"([0-9a-f]{24})\.[A-Za-z0-9]+$")
#: Label Studio prefixes uploaded files with 8 hex digits and a dash.
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def classes_hash(classes: list[str]) -> str:
    """A short hash of an ordered class list (changes when a name or the order changes)."""
    return hashlib.sha256(json.dumps(list(classes)).encode()).hexdigest()[:16]


@dataclass
class PackageImage:
    """One image of a package.

    Attributes:
        sample_id: the store's sample id (hex).
        file_name: its name inside the package's ``images/`` folder.
        sha256: the image bytes' hash (the sample's ``content_hash``).
        width, height: pixels.
    """

    sample_id: str
    file_name: str
    sha256: str
    width: int
    height: int


@dataclass
class Manifest:
    """``manifest.json``.

    Attributes:
        package_id: the export run id.
        workspace: ``{"name", "dataset_id", "root"}`` of the workspace that wrote it.
        round: the selection round exported (or None for a view).
        view: the view spec exported.
        created_at: ISO time; ``workbench_version``: the writer.
        classes: the class list annotators must use; ``classes_hash``: its hash.
        pre_annotations: the prediction run shipped as pre-annotations, if any.
        images: the images.
    """

    package_id: str
    workspace: dict[str, str]
    round: str | None
    view: str | None
    created_at: str
    workbench_version: str
    classes: list[str]
    classes_hash: str
    pre_annotations: str | None
    images: list[PackageImage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the format marker first."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> Manifest:
        """Parse and check a manifest document.

        Raises:
            SourceError: not a workbench manifest, missing keys, or its class hash does not
                match its class list (edited by hand).
        """
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise SourceError(f"{where}: not a workbench annotation package manifest ('format' "
                              f"is {got!r}, expected {FORMAT!r})")
        if doc.get("version") != VERSION:
            raise SourceError(f"{where}: manifest version {doc.get('version')!r}; this "
                              f"workbench reads version {VERSION}")
        try:
            images = [PackageImage(str(i["sample_id"]), str(i["file_name"]), str(i["sha256"]),
                                   int(i["width"]), int(i["height"])) for i in doc["images"]]
            manifest = cls(
                package_id=str(doc["package_id"]), workspace=dict(doc["workspace"]),
                round=doc.get("round"), view=doc.get("view"), created_at=str(doc["created_at"]),
                workbench_version=str(doc["workbench_version"]),
                classes=[str(c) for c in doc["classes"]], classes_hash=str(doc["classes_hash"]),
                pre_annotations=doc.get("pre_annotations"), images=images)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SourceError(f"{where}: malformed manifest ({exc!r}); was it edited?") from exc
        for im in images:
            if im.width <= 0 or im.height <= 0:
                raise SourceError(f"{where}: image {im.file_name!r} has size {im.width}x"
                                  f"{im.height}; a package image has a positive width and "
                                  "height (was the manifest edited?)")
        if classes_hash(manifest.classes) != manifest.classes_hash:
            raise SourceError(
                f"{where}: the class list does not match its hash {manifest.classes_hash} "
                "(the manifest's classes were edited); use the manifest as exported")
        return manifest

    def lookup(self) -> ImageLookup:
        """A name -> image matcher for this package."""
        return ImageLookup(self.images)


class ImageLookup:
    """Finds a package image from a name as an annotation tool wrote it.

    Tools rewrite names: ``images/x.jpg``, ``/data/upload/3/1a2b3c4d-x.jpg``,
    ``obj_train_data/x.txt``. A name matches by exact file name, then by base name (with a
    Label Studio upload prefix removed), then by stem, then by the sample id inside it.
    """

    def __init__(self, images: list[PackageImage]) -> None:
        self.images = images
        self.by_name = {im.file_name: k for k, im in enumerate(images)}
        self.by_stem = {im.file_name.rsplit(".", 1)[0]: k for k, im in enumerate(images)}
        self.by_id = {im.sample_id: k for k, im in enumerate(images)}

    def find(self, name: str) -> int | None:
        """Index of the image ``name`` refers to, or None."""
        if name in self.by_name:
            return self.by_name[name]
        base = name.replace("\\", "/").rsplit("/", 1)[-1].split("?", 1)[0]
        for candidate in (base, _UPLOAD_PREFIX.sub("", base)):
            if candidate in self.by_name:
                return self.by_name[candidate]
            stem = candidate.rsplit(".", 1)[0]
            if stem in self.by_stem:
                return self.by_stem[stem]
        m = _SAMPLE_ID.search(base)
        return self.by_id.get(m.group(1)) if m else None


def load_manifest(bundle: Bundle) -> Manifest:
    """The manifest of a package bundle.

    Raises:
        SourceError: the bundle has no ``manifest.json`` or it is invalid.
    """
    if MANIFEST not in bundle.names():
        raise SourceError(
            f"{bundle.label}: no {MANIFEST}; pass the annotation package this file answers "
            "with --package PKG.zip")
    return Manifest.from_dict(read_json(bundle, MANIFEST), f"{bundle.label}: {MANIFEST}")
