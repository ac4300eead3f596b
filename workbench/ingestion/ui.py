"""The ingestion capability's App operator: ``wb_ingest`` (``workbench ingest``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.ingestion.api import SOURCES, IngestConfig, ingest
from workbench.ui.api import Choices, OperatorSpec, Report

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace


def _ingest(ws: Workspace, cfg: IngestConfig, report: Report) -> Any:
    return ingest(ws, cfg, progress=lambda stage, done, total:
                  report(done / max(total, 1), stage))


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_ingest``."""
    ops.register("wb_ingest", OperatorSpec(
        "wb_ingest", "Workbench: ingest images",
        "Add images (and their labels) from a file or folder on the server, validated before "
        "anything is written (`workbench ingest`).",
        IngestConfig, _ingest, choices={"format": Choices(static=tuple(SOURCES.names()))},
        long=True, opens=lambda r: f"source:{r['source']}" if r.get("source") else None))
