"""What exists in a workspace, as the value lists of operator forms (runs, rounds, views ...).

:data:`SOURCES` maps a list's name (``Choices.source``) to the function that reads it; each is
a handful of indexed queries, so a form re-reads them whenever it is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.store import query, runs, schema
from workbench.store.runs import PREDICTION_KINDS, RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace


def _runs(ws: Workspace, *kinds: str, finished: bool = True) -> list[str]:
    """Run ids of these kinds, newest first (finished ones only unless ``finished`` is off)."""
    docs = [d for k in kinds for d in runs.list_runs(ws, k)
            if not finished or d.get("status", "completed") == "completed"]
    docs.sort(key=lambda d: str(d.get("started_at") or ""), reverse=True)
    return [str(d["_id"]) for d in docs]


def training_runs(ws: Workspace) -> list[str]:
    """Finished training runs, newest first."""
    return _runs(ws, RunKind.TRAIN)


def prediction_runs(ws: Workspace) -> list[str]:
    """Prediction runs (``predict`` and imported predictions), newest first."""
    return _runs(ws, *PREDICTION_KINDS)


def rounds(ws: Workspace) -> list[str]:
    """Selection rounds, newest first."""
    return _runs(ws, RunKind.SELECT)


def ssl_runs(ws: Workspace) -> list[str]:
    """Self-supervised pretraining runs (finished or interrupted: both have a checkpoint),
    newest first."""
    return _runs(ws, RunKind.SSL_PRETRAIN, finished=False)


def calibrations(ws: Workspace) -> list[str]:
    """Calibration runs (``workbench calibrate``), newest first."""
    return _runs(ws, RunKind.CALIBRATE)


def imports(ws: Workspace) -> list[str]:
    """Annotation imports (what ``annotate undo`` takes), newest first."""
    return _runs(ws, RunKind.ANNOTATE_IMPORT)


def export_folders(ws: Workspace) -> list[str]:
    """The folders of the recorded exports (what ``benchmark`` compares), newest first."""
    out: list[str] = []
    for export_id in _runs(ws, RunKind.EXPORT):
        doc = runs.get_run(ws, export_id) or {}
        folder = (doc.get("params") or {}).get("out")
        if folder and folder not in out:
            out.append(str(folder))
    return out


def classes(ws: Workspace) -> list[str]:
    """The workspace's classes."""
    return list(ws.classes)


def sources(ws: Workspace) -> list[str]:
    """The ingested sources' names."""
    return sorted(k for k in query.grouped_counts(ws, schema.SOURCE) if k != "none")


def views(ws: Workspace) -> list[str]:
    """View specs worth offering: everything, the pool, each split, status, round and source."""
    splits = sorted(k for k in query.grouped_counts(ws, schema.SPLIT) if k not in ("none", "pool"))
    return ["all", "pool", *(f"split:{s}" for s in splits),
            *(f"status:{s}" for s in schema.STATUSES), *(f"round:{r}" for r in rounds(ws)),
            *(f"source:{s}" for s in sources(ws))]


def embedding_fields(ws: Workspace) -> list[str]:
    """The image-embedding fields (``emb_<run>``)."""
    return [f for f in schema.field_names(ws) if f.startswith("emb_")]


def embedding_runs(ws: Workspace) -> list[str]:
    """Prediction runs whose image embeddings are stored, newest first."""
    present = set(embedding_fields(ws))
    return [r for r in _runs(ws, RunKind.PREDICT)
            if (runs.get_run(ws, r) or {}).get("outputs", {}).get("embeddings_field") in present]


#: List name -> reader; the names ``Choices.source`` may use.
SOURCES: dict[str, Callable[[Workspace], list[str]]] = {
    "training_runs": training_runs,
    "prediction_runs": prediction_runs,
    "rounds": rounds,
    "ssl_runs": ssl_runs,
    "imports": imports,
    "calibrations": calibrations,
    "exports": export_folders,
    "classes": classes,
    "sources": sources,
    "views": views,
    "embedding_fields": embedding_fields,
    "embedding_runs": embedding_runs,
}


def read(ws: Workspace, names: list[str]) -> dict[str, list[str]]:
    """The lists ``names`` of the workspace.

    Raises:
        KeyError: a name not in :data:`SOURCES` (a programming error).
    """
    return {name: SOURCES[name](ws) for name in names}
