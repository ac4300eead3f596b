"""``workbench split``: stratified, group-aware, deterministic splits of the labeled images."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.splits import UNASSIGNED, assign_splits
from workbench.curation.config import SplitConfig, check_group_by
from workbench.store import query, runs
from workbench.store.config import SPLITS, validate_ratios
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace


@dataclass
class SplitResult:
    """Outcome of :func:`split`.

    Attributes:
        run: the split run id.
        counts: images per split after the split.
        moved: images whose split changed (or that got their first one).
        per_class: class -> split -> images containing the class.
    """

    run: str
    counts: dict[str, int]
    moved: int
    per_class: dict[str, dict[str, int]]
    ratios: tuple[float, float, float]
    seed: int
    reset: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run": self.run, "counts": self.counts, "moved": self.moved,
                "per_class": self.per_class, "ratios": list(self.ratios), "seed": self.seed,
                "reset": self.reset}


def split(ws: Workspace, **options: Any) -> SplitResult:
    """:func:`run_split` with the fields of :class:`SplitConfig` as keywords."""
    return run_split(ws, SplitConfig(**options))


def run_split(ws: Workspace, config: SplitConfig | None = None) -> SplitResult:
    """Assign labeled images to train/val/test.

    Without ``config.reset`` every image keeps the split it has (so the test set never changes
    under a model) and only unassigned labeled images are placed, towards the target ratios.
    With ``reset`` all labeled images are redistributed.

    Args:
        ws: the workspace.
        config: ratios, seed, grouping field, reset; ``None`` fields take the workspace's.
    """
    config = config or SplitConfig()
    started = dt.datetime.now(dt.UTC)
    r = config.ratios if isinstance(config.ratios, tuple) else ws.config.split.ratios
    validate_ratios(tuple(r))
    seed = ws.config.split.seed if config.seed is None else config.seed
    group_by = config.group_by or ws.config.split.group_by
    reset = config.reset
    check_group_by(group_by)
    table = query.labeled_table(ws, ws.classes, group_by)
    split_index = {s: k for k, s in enumerate(SPLITS)}
    current = np.array([split_index.get(s, UNASSIGNED) for s in table.split], dtype=np.int64)
    fixed = np.full(len(current), UNASSIGNED) if reset else current
    _, group_ids = np.unique(table.group, return_inverse=True)
    group_ids = np.where(table.group == "", -1, group_ids)
    result = assign_splits(table.classes, r, np.random.default_rng(seed),
                           groups=group_ids, fixed=fixed)
    changed = result != current
    for k, name in enumerate(SPLITS):
        ids = [table.ids[i] for i in np.flatnonzero(changed & (result == k))]
        query.set_split(ws, ids, name)
    counts = {name: int((result == k).sum()) for k, name in enumerate(SPLITS)}
    per_class = {c: {name: int(table.classes[result == k, j].sum())
                     for k, name in enumerate(SPLITS)} for j, c in enumerate(ws.classes)}
    run_id = runs.new_run_id("split")
    out = SplitResult(run_id, counts, int(changed.sum()), per_class,
                      (float(r[0]), float(r[1]), float(r[2])), seed, reset)
    runs.record_run(ws, RunKind.SPLIT, run_id,
                    {"ratios": list(r), "seed": seed, "group_by": group_by, "reset": reset},
                    {"counts": counts, "moved": out.moved}, started)
    return out
