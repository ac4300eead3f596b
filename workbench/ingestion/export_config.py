"""Options and result of ``workbench export-dataset``: a curated view handed back as a dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ConfigError
from workbench.results import Result

__all__ = ["EXPORT_FORMATS", "ExportDatasetConfig", "ExportDatasetResult"]

#: The dataset formats ``export-dataset`` writes (``workbench/ingestion/writers``).
EXPORT_FORMATS = ("yolo", "coco", "hf")


@dataclass
class ExportDatasetConfig:
    """What to export and where.

    Attributes:
        view: a view spec (``split:val``, ``source:x``, ``all`` ...); its labeled images are
            written with their ground truth.
        out: the folder to create (it must not exist, or be empty, unless ``overwrite``).
        format: ``yolo`` (data.yaml, images/ and labels/ per split), ``coco`` (images/ and
            annotations.json) or ``hf`` (a Hugging Face ``save_to_disk`` DatasetDict, one
            split per workspace split, ``objects: {bbox, category}`` with ``ClassLabel``
            names and COCO pixel boxes).
        overwrite: replace an existing ``out``.
        link: hard-link the images instead of copying them (same file system only; the
            copy is made where linking fails). Not for ``hf``, which embeds the bytes.

    Raises:
        ConfigError: an unknown format, an empty view spec.
    """

    view: str
    out: str | Path
    format: str = "yolo"
    overwrite: bool = False
    link: bool = False

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not "
                              f"{self.format!r}")
        if not str(self.view).strip():
            raise ConfigError("give a view to export, e.g. split:train or all")


@dataclass
class ExportDatasetResult(Result):
    """What ``export-dataset`` wrote.

    Attributes:
        format: the format; ``out``: the folder written.
        images: labeled images written; ``boxes``: their boxes.
        splits: images per split as written (``train``, ``val``, ``test``; the ``hf`` names
            are ``train``, ``validation``, ``test``).
        classes: the class list, in id order.
        warnings: what was adapted (images without a split put in ``train``, ...).
        seconds: wall time.
    """

    format: str
    out: str
    images: int = 0
    boxes: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
