"""Options of ``workbench ingest``: every default and rule of an ingest lives here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.ingestion.sources import SOURCES


@dataclass
class IngestConfig:
    """What to ingest and how.

    Attributes:
        path: file or folder, as the format expects.
        format: a name in :data:`workbench.ingestion.sources.SOURCES`.
        source: provenance name stored on each sample (default: the path's name).
        unlabeled: ignore labels; images go to the pool as ``unlabeled``.
        skip_bad: ingest the valid images and report the rest, instead of failing.
        add_classes: append class names the workspace does not know yet (else an error).
        images_dir: where images are, for formats whose annotation files live apart.

    Raises:
        UnknownNameError: ``format`` is not registered (the message lists the formats).
    """

    path: str | Path
    format: str
    source: str | None = None
    unlabeled: bool = False
    skip_bad: bool = False
    add_classes: bool = False
    images_dir: str | Path | None = None

    def __post_init__(self) -> None:
        SOURCES.entry(self.format)
