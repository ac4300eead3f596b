"""Configs of the annotation verbs: every default and validation rule of ``annotate ...``.

The CLI, the App and the loop read their defaults from these dataclasses (see
:func:`workbench.cli.common.default`); this module stays light at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.annotation.backends import BACKENDS
from workbench.annotation.bundle import ZipLimits
from workbench.annotation.formats import AUTO, FORMATS, format_choices
from workbench.errors import UnknownNameError

#: Default image URL prefix in labelstudio_tasks.json: Label Studio's local-files serving
#: with the unzipped package folder as its document root.
LS_LOCAL_PREFIX = "/data/local-files/?d=images/"


@dataclass
class PackageConfig:
    """Options of ``workbench annotate export``.

    Attributes:
        out: the zip to write.
        round: a selection round to export (default: the latest round, when no view).
        view: a view spec instead of a round.
        pre_annotations: a prediction run whose boxes ship as pre-annotations.
        pre_annotation_conf: only its boxes at least this confident ship.
        guidelines: a Markdown file appended to the generated guidelines.
        thumbnails: write ``thumbnails/``.
        examples_per_class: example crops per class in the guidelines.
        image_prefix: URL prefix of images in ``labelstudio_tasks.json``.
    """

    out: Path
    round: str | None = None
    view: str | None = None
    pre_annotations: str | None = None
    pre_annotation_conf: float = 0.25
    guidelines: Path | None = None
    thumbnails: bool = True
    examples_per_class: int = 3
    image_prefix: str = LS_LOCAL_PREFIX


@dataclass
class ImportConfig:
    """Options of ``workbench annotate import``.

    Attributes:
        path: the returned package (zip or folder), or a tool's export (file, folder, zip).
        format: ``auto`` or a registered format (:data:`~workbench.annotation.formats.FORMATS`).
        package: the package the export answers, when ``path`` is not the package itself.
        dry_run: compute and return the diff, write nothing.
        max_zip_bytes: refuse zips that expand to more bytes than this (zip-bomb guard).
        max_zip_entries: refuse zips with more entries than this.
    """

    path: Path
    format: str = AUTO
    package: Path | None = None
    dry_run: bool = False
    max_zip_bytes: int = ZipLimits.max_total_bytes
    max_zip_entries: int = ZipLimits.max_entries

    def __post_init__(self) -> None:
        if self.format != AUTO and self.format not in FORMATS:
            raise UnknownNameError("format", self.format, format_choices())

    @property
    def limits(self) -> ZipLimits:
        """The zip and JSON size caps."""
        return ZipLimits(max_entries=self.max_zip_entries, max_total_bytes=self.max_zip_bytes)


@dataclass
class UndoConfig:
    """Options of ``workbench annotate undo``.

    Attributes:
        import_id: the annotation import to undo (``workbench runs --kind annotate-import``).
    """

    import_id: str


def _check_backend(name: str) -> None:
    BACKENDS.entry(name)  # raises UnknownNameError listing the valid backends


@dataclass
class PushConfig:
    """Options of ``annotate push``.

    Attributes:
        project: the project title (default: the dataset name).
        round: a selection round to send (default: the latest round, when no view).
        view: a view spec instead of a round.
        pre_annotations: a prediction run whose boxes are sent as pre-annotations.
        pre_annotation_conf: only its boxes at least this confident are sent.
        url: the annotation server (default: ``$LABEL_STUDIO_URL``, else
            ``http://127.0.0.1:8080``).
        backend: a name of :data:`~workbench.annotation.backends.BACKENDS`.
    """

    project: str | None = None
    round: str | None = None
    view: str | None = None
    pre_annotations: str | None = None
    pre_annotation_conf: float = PackageConfig.pre_annotation_conf
    url: str | None = None
    backend: str = "labelstudio"

    def __post_init__(self) -> None:
        _check_backend(self.backend)


@dataclass
class PullConfig:
    """Options of ``annotate pull``.

    Attributes:
        project: the project title (default: the dataset name).
        url: the annotation server (default: ``$LABEL_STUDIO_URL``, else
            ``http://127.0.0.1:8080``).
        dry_run: compute and return the diff, write nothing.
        backend: a name of :data:`~workbench.annotation.backends.BACKENDS`.
    """

    project: str | None = None
    url: str | None = None
    dry_run: bool = False
    backend: str = PushConfig.backend

    def __post_init__(self) -> None:
        _check_backend(self.backend)
