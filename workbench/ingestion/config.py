"""Options of ``workbench ingest``: every default and rule of an ingest lives here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError
from workbench.ingestion.sources import SOURCES


@dataclass
class IngestConfig:
    """What to ingest and how.

    Attributes:
        path: file or folder, as the format expects.
        format: a name in :data:`workbench.ingestion.sources.SOURCES`.
        source: provenance name stored on each sample (default: the path's name).
        unlabeled: ignore labels; images go to the pool as ``unlabeled``.
        negatives: the images hold no object of interest: they go to the pool unlabeled,
            tagged ``negative``, and are never offered for annotation; ``workbench mine
            --negatives tag:negative`` labels those the model fires on as empty (implies
            ``unlabeled``).
        skip_bad: ingest the valid images and report the rest, instead of failing.
        add_classes: append class names the workspace does not know yet (else an error).
        images_dir: where images are, for formats whose annotation files live apart.
        max_skipped_share: with ``skip_bad``, the largest share (0..1) of the images found
            that may be skipped as bad; above it (and whenever every image would be skipped)
            the ingest fails and writes nothing.

    Raises:
        UnknownNameError: ``format`` is not registered (the message lists the formats).
        ConfigError: ``max_skipped_share`` outside [0, 1].
    """

    path: str | Path
    format: str
    source: str | None = None
    unlabeled: bool = False
    negatives: bool = False
    skip_bad: bool = False
    add_classes: bool = False
    images_dir: str | Path | None = None
    max_skipped_share: float = 0.5

    def __post_init__(self) -> None:
        SOURCES.entry(self.format)
        if not 0.0 <= self.max_skipped_share <= 1.0:
            raise ConfigError(f"max_skipped_share (--max-skipped) must be within 0..1, got "
                              f"{self.max_skipped_share}; e.g. 0.5 allows skipping half")
