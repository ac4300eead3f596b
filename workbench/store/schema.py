"""Sample field names (part of the contract with users and the App) and their FiftyOne types."""

from __future__ import annotations

from typing import Any

SOURCE = "source"
SOURCE_ID = "source_id"
CONTENT_HASH = "content_hash"
GROUP = "group"
SPLIT = "split"
STATUS = "status"
GROUND_TRUTH = "ground_truth"
ROUND_SELECTED = "round_selected"
INGEST_RUN = "ingest_run"

STATUSES = ("unlabeled", "queued", "in_annotation", "labeled")
RUNS_COLLECTION = "workbench_runs"

_STRING_FIELDS = (SOURCE, SOURCE_ID, CONTENT_HASH, GROUP, SPLIT, STATUS, ROUND_SELECTED, INGEST_RUN)
INDEXED = ((CONTENT_HASH, True), (SPLIT, False), (STATUS, False), (GROUP, False))


def ensure_detections_field(dataset: Any, name: str) -> None:
    """Declare ``name`` as a Detections field (idempotent)."""
    import fiftyone as fo

    if name not in dataset.get_field_schema():
        dataset.add_sample_field(name, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)


def ensure_schema(dataset: Any, extra: dict[str, str] | None = None) -> None:
    """Declare the workbench fields and indexes on ``dataset`` (idempotent).

    Args:
        dataset: a ``fiftyone.core.dataset.Dataset``.
        extra: additional sample fields, name -> ``"float" | "string" | "float_list"``.
    """
    import fiftyone as fo

    schema = dataset.get_field_schema()
    for name in _STRING_FIELDS:
        if name not in schema:
            dataset.add_sample_field(name, fo.StringField)
    ensure_detections_field(dataset, GROUND_TRUTH)
    kinds: dict[str, tuple[Any, dict[str, Any]]] = {
        "float": (fo.FloatField, {}),
        "string": (fo.StringField, {}),
        "float_list": (fo.ListField, {"subfield": fo.FloatField}),
    }
    for name, kind in (extra or {}).items():
        if name not in schema:
            ftype, kwargs = kinds[kind]
            dataset.add_sample_field(name, ftype, **kwargs)
    existing = set(dataset.list_indexes())
    for name, unique in INDEXED:
        if name not in existing:
            # Unique only among samples that have the field: samples added through FiftyOne
            # itself (no content hash) must not collide on null.
            options: dict[str, Any] = (
                {"partialFilterExpression": {name: {"$type": "string"}}} if unique else {})
            dataset.create_index(name, unique=unique, **options)
