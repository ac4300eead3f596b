"""Image embeddings of a pretraining run: ``emb_<run>`` written in bulk.

The same field layout as ``workbench predict --embeddings`` (a vector field per run, see
:func:`workbench.store.predictions.write_predictions`), so selection's diversity
(``--embeddings emb_<run>``), the 2-D maps and the similarity index read both alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymongo import UpdateOne

from workbench.store import journal
from workbench.store.predictions import field_name
from workbench.store.schema import ensure_fields

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

_CHUNK = 5000


def embeddings_field(run: str) -> str:
    """The field of run ``run``'s embeddings: ``emb_<run>``."""
    return field_name("emb", run)


def write_embeddings(ws: Workspace, run: str, sample_ids: list[Any],
                     embeddings: np.ndarray) -> str:
    """Set ``emb_<run>`` on ``sample_ids`` (one unordered ``bulk_write`` per 5,000 samples).

    Args:
        ws: the workspace.
        run: the run whose embeddings these are.
        sample_ids: ``N`` sample ObjectIds.
        embeddings: ``(N, D)`` vectors, row ``i`` for ``sample_ids[i]``.

    Returns:
        The field name.
    """
    field = embeddings_field(run)
    ensure_fields(ws, {field: "vector"})
    journal.writing_fields(ws, sample_ids, [field])
    rows = np.asarray(embeddings, dtype=np.float64).tolist()
    for start in range(0, len(sample_ids), _CHUNK):
        ops = [UpdateOne({"_id": i}, {"$set": {field: row}})
               for i, row in zip(sample_ids[start:start + _CHUNK], rows[start:start + _CHUNK],
                                 strict=True)]
        if ops:
            ws.samples.bulk_write(ops, ordered=False)
    return field


def dimension(ws: Workspace, run: str) -> int:
    """The length of the stored ``emb_<run>`` vectors (0 when no sample has them)."""
    field = embeddings_field(run)
    doc = ws.samples.find_one({field: {"$exists": True}}, {field: 1})
    return len((doc or {}).get(field) or [])
