"""Sample field names (part of the contract with users and the App) and their FiftyOne types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

SOURCE = "source"
SOURCE_ID = "source_id"
CONTENT_HASH = "content_hash"
GROUP = "group"
SPLIT = "split"
STATUS = "status"
GROUND_TRUTH = "ground_truth"
ROUND_SELECTED = "round_selected"
INGEST_RUN = "ingest_run"
#: Tag of images known to hold no object of interest (``ingest --negatives``): never offered
#: for annotation; ``mine --negatives`` labels those the model fires on.
NEGATIVE_TAG = "negative"

STATUSES = ("unlabeled", "queued", "in_annotation", "labeled")
RUNS_COLLECTION = "workbench_runs"

_STRING_FIELDS = (SOURCE, SOURCE_ID, CONTENT_HASH, GROUP, SPLIT, STATUS, ROUND_SELECTED, INGEST_RUN)
INDEXED = ((CONTENT_HASH, True), (SPLIT, False), (STATUS, False), (GROUP, False))


def ensure_detections_field(dataset: Any, name: str) -> None:
    """Declare ``name`` as a Detections field (idempotent)."""
    import fiftyone as fo

    if name not in dataset.get_field_schema():
        dataset.add_sample_field(name, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)


def ensure_workspace_schema(ws: Workspace, extra: dict[str, str] | None = None) -> None:
    """:func:`ensure_schema` on the workspace's dataset (before an ingest writes samples).

    FiftyOne is loaded only when a field or an index is missing (read with pymongo first).
    """
    needed = {*_STRING_FIELDS, GROUND_TRUTH, *(extra or {})}
    keys = {tuple(k for k, _ in info["key"]) for info in ws.samples.index_information().values()}
    if needed <= set(field_names(ws)) and all((name,) in keys for name, _ in INDEXED):
        return
    ensure_schema(ws.dataset, extra)


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


def field_names(ws: Workspace, include_private: bool = False) -> list[str]:
    """The dataset's sample field names, as ``get_field_schema()`` lists them, without fiftyone.

    Read from the ``sample_fields`` of the dataset's document in FiftyOne's ``datasets``
    collection (fields are declared there when added), in that document's order.

    Args:
        ws: the workspace.
        include_private: also list FiftyOne's private fields (``_rand``, ``_dataset_id`` …).
    """
    doc = ws.dataset_document({"sample_fields.name": 1})
    names = [str(f["name"]) for f in doc.get("sample_fields") or []]
    return names if include_private else [n for n in names if not n.startswith("_")]


def has_field(ws: Workspace, name: str) -> bool:
    """Whether ``name`` is in the dataset's field schema (``name in get_field_schema()``).

    Read without importing fiftyone; private fields (``_rand`` …) do not count, as there.
    """
    return name in field_names(ws)


def field_types(ws: Workspace) -> dict[str, str]:
    """Public sample field name -> FiftyOne type, e.g. ``"FloatField"``, ``"Detections"``.

    Embedded documents give their document type (``Detections``, ``Metadata``), lists
    ``ListField(FloatField)``; read without importing fiftyone.
    """
    doc = ws.dataset_document({"sample_fields": 1})
    types: dict[str, str] = {}
    for f in doc.get("sample_fields") or []:
        if str(f["name"]).startswith("_"):
            continue
        ftype = str(f.get("ftype") or "").rpartition(".")[2]
        embedded = str(f.get("embedded_doc_type") or "").rpartition(".")[2]
        sub = str(f.get("subfield") or "").rpartition(".")[2]
        types[str(f["name"])] = embedded or (f"{ftype}({sub})" if sub else ftype)
    return types


#: Kinds of :func:`ensure_fields`.
FIELD_KINDS = ("detections", "dict", "vector", "float", "string", "float_list")


def ensure_fields(ws: Workspace, fields: dict[str, str]) -> list[str]:
    """Declare the sample fields that are missing; fiftyone is imported only when one is.

    Args:
        ws: the workspace.
        fields: name -> kind, one of :data:`FIELD_KINDS`.

    Returns:
        The names declared now (empty when all existed: nothing but one pymongo read).
    """
    present = set(field_names(ws))
    missing = {name: kind for name, kind in fields.items() if name not in present}
    if not missing:
        return []
    from workbench.store.connection import fiftyone

    fo = fiftyone()
    kinds: dict[str, tuple[Any, dict[str, Any]]] = {
        "detections": (fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Detections}),
        "dict": (fo.DictField, {}),
        "vector": (fo.VectorField, {}),
        "float": (fo.FloatField, {}),
        "string": (fo.StringField, {}),
        "float_list": (fo.ListField, {"subfield": fo.FloatField}),
    }
    ds = ws.dataset
    declared = ds.get_field_schema()
    added = []
    for name, kind in missing.items():
        if name not in declared:
            ftype, kwargs = kinds[kind]
            ds.add_sample_field(name, ftype, **kwargs)
            added.append(name)
    return added
