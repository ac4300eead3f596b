"""Label images as negatives (empty ground truth), recorded and undoable like an import.

Used by hard-negative mining: images known to hold no object of interest on which the model
still fires become labeled training images with no box. The change is an ``annotate-import``
run (source ``negatives``), so ``workbench annotate undo ID`` restores the images' previous
state.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.annotation.writing import write_label_change
from workbench.errors import WorkbenchError
from workbench.store import annotating, schema
from workbench.store.bulk import detections_doc
from workbench.store.workspace import Workspace


def label_negatives(ws: Workspace, sample_ids: list[Any], reason: dict[str, Any],
                    split_to: str | None = "train") -> dict[str, Any]:
    """Give samples empty ground truth and ``status=labeled`` as one undoable change.

    Samples that are labeled already are left alone (their labels are the annotators').

    Args:
        ws: the workspace.
        sample_ids: raw ids (ObjectId) of the images to label as negatives.
        reason: what chose them (recorded as the run's parameters, e.g. the model and the
            confidence threshold).
        split_to: the split of those outside train/val/test (None: ``workbench split``'s
            ratios).

    Returns:
        ``{"import_id": "" when nothing changed, "labeled": K, "skipped_labeled": L,
        "placed_in_splits": P}``.

    Raises:
        WorkbenchError: a sample is gone, or changed while writing (nothing written).
    """
    started = time.perf_counter()
    current = annotating.import_states(ws, list(sample_ids))
    missing = [i for i in sample_ids if i not in current]
    if missing:
        raise WorkbenchError(f"{len(missing)} images are no longer in the workspace (e.g. "
                             f"{missing[0]}); nothing was labeled")
    before = [current[i] for i in sample_ids if current[i].get(schema.STATUS) != "labeled"]
    skipped = len(sample_ids) - len(before)
    if not before:
        return {"import_id": "", "labeled": 0, "skipped_labeled": skipped,
                "placed_in_splits": 0}
    docs = [detections_doc([], []) for _ in before]

    def outputs(change_id: str, placed: int) -> dict[str, Any]:
        return {"import_id": change_id, "images": len(before), "boxes": 0,
                "placed_in_splits": placed, "skipped_labeled": skipped}

    change_id, placed = write_label_change(
        ws, {"source": "negatives", "format": "negatives", **reason},
        {"negatives": len(before)}, before, docs, outputs, started, split_to=split_to)
    return {"import_id": change_id, "labeled": len(before), "skipped_labeled": skipped,
            "placed_in_splits": placed}
