"""One label change, recorded and undoable: the write shared by imports and mined negatives.

The previous state of each touched sample is saved (:mod:`workbench.store.versions`), the new
ground truth is written in one bulk write, samples outside train/val/test get a split, and the
change is recorded as an ``annotate-import`` run, so ``workbench annotate undo ID`` restores
it. Everything happens under the workspace's write lock, as one transaction on a replica set
(:mod:`workbench.store.transaction`) and under the operation journal elsewhere: a failure (or
a kill) leaves the workspace as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workbench.errors import WorkbenchError
from workbench.store import connection, labels, lock, query, runs, schema, transaction, versions
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

KIND = RunKind.ANNOTATE_IMPORT
TRAIN_SPLITS = ("train", "val", "test")


def write_label_change(ws: Workspace, params: dict[str, Any], inputs: dict[str, Any],
                       before: list[dict[str, Any]], docs: list[dict[str, Any]],
                       outputs: Callable[[str, int], dict[str, Any]], started: float,
                       split_to: str | None = None) -> tuple[str, int]:
    """Write new ground truth on samples as one recorded, undoable change.

    Args:
        ws: the workspace.
        params, inputs: the run record's parameters and inputs.
        before: ``K`` sample documents as read before (``_id``, ``last_modified_at`` and the
            fields versions save).
        docs: ``K`` Detections documents to write.
        outputs: ``outputs(change_id, placed) -> dict`` the run's outputs once written.
        started: ``time.perf_counter()`` at the start of the command.
        split_to: put samples outside train/val/test into this split; None: let
            ``workbench split`` place them by its ratios.

    Returns:
        The change id (what ``annotate undo`` takes) and how many samples got a split.

    Raises:
        WorkbenchError: a sample changed meanwhile, or the write failed (rolled back).
    """
    change_id = runs.new_run_id("import")
    ids = [b["_id"] for b in before]

    def change() -> int:
        runs.start_run(ws, KIND, change_id, params, inputs)
        versions.save(ws, change_id, before, [versions.fingerprint(d) for d in docs])
        labels.write_ground_truth(ws, before, docs)
        placed = 0
        to_place = [b["_id"] for b in before if b.get(schema.SPLIT) not in TRAIN_SPLITS]
        if to_place and split_to:
            query.set_split(ws, to_place, split_to)
            placed = len(to_place)
        elif to_place:
            from workbench.curation.api import split

            placed = split(ws).moved
        out = outputs(change_id, placed)
        out["sample_ids"] = ids
        runs.finish_run(ws, change_id, "completed", out, time.perf_counter() - started)
        return placed

    with lock.hold(ws):  # its operation journal rolls every write below back if one fails
        versions.ensure_index(ws)
        try:
            placed = transaction.atomic(ws, change, samples=len(before))
        except BaseException as exc:
            if connection.lost_connection(exc) is not None:
                raise  # the database is gone: the next command rolls the change back
            if runs.get_run(ws, change_id) is None:  # an aborted transaction took it along
                runs.start_run(ws, KIND, change_id, params, inputs)
            runs.finish_run(ws, change_id, "failed", {"error": str(exc)[:500]},
                            time.perf_counter() - started)
            if isinstance(exc, WorkbenchError | KeyboardInterrupt):
                raise
            raise WorkbenchError(f"writing the labels failed and was rolled back ({exc}); the "
                                 "workspace is as it was") from exc
    return change_id, placed
