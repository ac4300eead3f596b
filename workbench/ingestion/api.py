"""The ingestion capability's public surface: what other capabilities and the facade import."""

from __future__ import annotations

from workbench.ingestion.ingest import IngestResult, ingest

__all__ = ["IngestResult", "ingest"]
