"""Options of ``workbench ingest``: every default and rule of an ingest lives here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.ingestion.sources import SOURCES


@dataclass
class IngestConfig:
    """What to ingest and how.

    Attributes:
        path: file or folder, as the format expects; for the formats that read from
            elsewhere, ``FORMAT:SPEC`` (``fathomnet:CONCEPT[,CONCEPT]``, ``hf:REPO_OR_PATH``).
        format: a name in :data:`workbench.ingestion.sources.SOURCES` (empty: taken from a
            ``FORMAT:`` prefix of ``path``).
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
        limit: at most this many images (fathomnet, hf).
        class_map: a YAML/JSON ``{source name: workspace class}`` file merging the source's
            names into the workspace's classes (fathomnet, hf).
        cache: where downloaded images are kept, content-addressed (fathomnet; default:
            the workspace's ``media/`` folder).
        taxa_descendants: also take the concepts' descendants in the taxonomy (fathomnet).
        bbox_only: only images with at least one box of the concepts (fathomnet).
        split: the dataset split to read (hf; default ``train``).
        revision: the dataset revision on the Hub (hf).
        image_column: the column of the images (hf; default: detected).
        objects_column: the column of the boxes (hf; default: detected).
        bbox_format: how the boxes are written: ``coco``, ``voc``, ``yolo``,
            ``albumentations`` (hf; default ``coco``).
        every: keep every N-th frame (video); ``fps``: keep this many frames per second
            (video); ``dedup_threshold``: drop a frame whose perceptual hash is within this
            many bits of the last kept one (video; 0 keeps every sampled frame).

    Raises:
        UnknownNameError: ``format`` is not registered (the message lists the formats).
        ConfigError: ``max_skipped_share`` outside [0, 1].
    """

    path: str | Path
    format: str = ""
    source: str | None = None
    unlabeled: bool = False
    negatives: bool = False
    skip_bad: bool = False
    add_classes: bool = False
    images_dir: str | Path | None = None
    max_skipped_share: float = 0.5
    limit: int | None = None
    class_map: str | Path | None = None
    cache: str | Path | None = None
    taxa_descendants: bool = False
    bbox_only: bool = False
    split: str | None = None
    revision: str | None = None
    image_column: str | None = None
    objects_column: str | None = None
    bbox_format: str | None = None
    every: int | None = None
    fps: float | None = None
    dedup_threshold: int | None = None

    def __post_init__(self) -> None:
        scheme, _, rest = str(self.path).partition(":")
        if not self.format and rest and scheme in SOURCES and SOURCES.entry(scheme).meta.get(
                "scheme"):
            self.format = scheme
        if not self.format:
            raise ConfigError(f"give --format for {self.path} (one of "
                              f"{', '.join(SOURCES.names())}), or a FORMAT: prefix such as "
                              "fathomnet:CONCEPT or hf:REPO")
        entry = SOURCES.entry(self.format)
        allowed = entry.meta.get("options", ())
        wrong = [name for name in self.source_params() if name not in allowed]
        if wrong:
            users = {name: [e.name for e in SOURCES if name in e.meta.get("options", ())]
                     for name in wrong}
            raise ConfigError("; ".join(
                f"--{name.replace('_', '-')} is not an option of --format {self.format} "
                f"(it applies to {', '.join(users[name]) or 'no format'})" for name in wrong))
        for name in ("limit", "every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name} must be at least 1, got {value}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"--fps must be above 0, got {self.fps}")
        if self.every is not None and self.fps is not None:
            raise ConfigError("give --every N or --fps F, not both")
        if self.dedup_threshold is not None and not 0 <= self.dedup_threshold <= 64:
            raise ConfigError(f"--dedup-threshold is a number of bits in 0..64 (of a 64-bit "
                              f"perceptual hash), got {self.dedup_threshold}")
        if not 0.0 <= self.max_skipped_share <= 1.0:
            raise ConfigError(f"max_skipped_share (--max-skipped) must be within 0..1, got "
                              f"{self.max_skipped_share}; e.g. 0.5 allows skipping half")

    def source_params(self) -> dict[str, Any]:
        """The format-specific options that were set, by field name (what the parser gets
        as :attr:`~workbench.media.records.SourceOptions.params`)."""
        values = {name: getattr(self, name) for name in SOURCE_PARAMS}
        return {k: v for k, v in values.items() if v is not None and v is not False}

    def spec(self) -> str | None:
        """What follows ``FORMAT:`` for a format that reads from elsewhere, else None."""
        if not SOURCES.entry(self.format).meta.get("scheme"):
            return None
        text = str(self.path)
        return text[len(self.format) + 1:] if text.startswith(f"{self.format}:") else text


#: The fields of :class:`IngestConfig` that only some formats take (registry meta ``options``).
SOURCE_PARAMS = ("limit", "class_map", "cache", "taxa_descendants", "bbox_only", "split",
                 "revision", "image_column", "objects_column", "bbox_format", "every", "fps",
                 "dedup_threshold")
