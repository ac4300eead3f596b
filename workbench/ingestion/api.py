"""The ingestion capability's public surface: what other capabilities and the facade import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError
from workbench.ingestion.config import IngestConfig
from workbench.ingestion.export_config import (
    EXPORT_FORMATS,
    ExportDatasetConfig,
    ExportDatasetResult,
)
from workbench.ingestion.ingest import (
    IngestError,
    IngestResult,
    Progress,
    TooManySkippedError,
    run_ingest,
)
from workbench.ingestion.sources import SOURCES
from workbench.ingestion.sources.voc import declared_size
from workbench.store import lock

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


@lock.writes
def ingest(ws: Workspace, config: IngestConfig | str | Path | None = None,
           format: str | None = None, *,
           progress: Progress | None = None, **options: Any) -> IngestResult:
    """Ingest images and labels into the workspace; re-ingesting the same files adds nothing.

    Called with an :class:`IngestConfig`, or as ``ingest(ws, path, format, **options)`` with
    the config's fields as keywords (what ``wb.ingest`` documents).

    Args:
        ws: the workspace.
        config: what to ingest (path, format) and how; or the path (or None: ``path=``).
        format: the format, when ``config`` is a path.
        progress: called as ``progress(stage, done, total)``.
        **options: the other :class:`IngestConfig` fields, when ``config`` is a path.

    Raises:
        IngestError: the input has errors and ``skip_bad`` is off; nothing was written.
        TooManySkippedError: ``skip_bad`` would skip every image, or more than
            ``max_skipped_share`` of them; nothing was written.
        SourceError: the input cannot be read at all.
        UnknownNameError: an unknown format (the message lists them).
    """
    if not isinstance(config, IngestConfig):
        if config is not None:
            options["path"] = config
        if format is not None:
            options["format"] = format
        if "format" not in options and ":" not in str(options.get("path", "")):
            raise ConfigError(f"ingest of {options.get('path')} needs a format: "
                              f"{SOURCES.choices()}")
        config = IngestConfig(**options)
    elif format is not None or options:
        raise TypeError("give an IngestConfig or a path with keyword options, not both")
    return run_ingest(ws, config, progress)


__all__ = ["EXPORT_FORMATS", "SOURCES", "ExportDatasetConfig", "ExportDatasetResult",
           "IngestConfig", "IngestError", "IngestResult", "TooManySkippedError",
           "declared_size", "export_dataset", "ingest"]


def export_dataset(ws: Workspace, config: ExportDatasetConfig | None = None,
                   **options: Any) -> ExportDatasetResult:
    """Write the labeled images of a view and their boxes as a YOLO, COCO or Hugging Face
    dataset (``workbench export-dataset``); ingesting it again gives the same boxes.

    Args:
        ws: the workspace.
        config: the options, or None with :class:`ExportDatasetConfig`'s fields as keywords.

    Raises:
        ExportDatasetError: no labeled images in the view, a non-empty ``out`` without
            ``overwrite``, a missing image file; nothing was written.
    """
    from workbench.ingestion.export import run_export

    if config is None:
        config = ExportDatasetConfig(**options)
    elif options:
        raise TypeError("give an ExportDatasetConfig or keyword options, not both")
    return run_export(ws, config)
