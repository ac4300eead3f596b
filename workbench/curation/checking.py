"""``workbench check``: leaks and label problems that would make evaluation lie."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.boxes import outside_image
from workbench.curation.config import CheckConfig
from workbench.store import checks, lock, schema
from workbench.store.config import SPLITS
from workbench.store.workspace import Workspace

_EXAMPLES = 20


@dataclass
class CheckResult:
    """Findings of :func:`check`.

    Attributes:
        duplicates: content hashes found in more than one split, with their samples.
        group_leaks: groups whose images sit in more than one split.
        boxes_outside: boxes that reach outside their image (sample, label, box).
        empty_classes: classes of the class list with no box at all.
        classes_missing_from_split: class -> splits without any box of it.
        unassigned: labeled images with no split yet.
        inconsistent: samples whose status, split, tags, round and ground truth disagree
            (``inconsistent_count`` of them; up to 20 examples with their problems).
        duplicate_hashes: images stored more than once (same content hash).
    """

    duplicates: list[dict[str, Any]] = field(default_factory=list)
    group_leaks: list[dict[str, Any]] = field(default_factory=list)
    boxes_outside: list[dict[str, Any]] = field(default_factory=list)
    boxes_outside_count: int = 0
    empty_classes: list[str] = field(default_factory=list)
    classes_missing_from_split: dict[str, list[str]] = field(default_factory=dict)
    unassigned: int = 0
    inconsistent: list[dict[str, Any]] = field(default_factory=list)
    inconsistent_count: int = 0
    duplicate_hashes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def leaks(self) -> bool:
        """Whether the same image or group spans splits."""
        return bool(self.duplicates or self.group_leaks)

    @property
    def ok(self) -> bool:
        """No leak, no box outside its image, no inconsistent or doubly stored sample."""
        return (not self.leaks and self.boxes_outside_count == 0
                and not self.inconsistent_count and not self.duplicate_hashes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "leaks": self.leaks, "duplicates": self.duplicates,
                "group_leaks": self.group_leaks, "boxes_outside": self.boxes_outside,
                "boxes_outside_count": self.boxes_outside_count,
                "empty_classes": self.empty_classes,
                "classes_missing_from_split": self.classes_missing_from_split,
                "unassigned": self.unassigned, "inconsistent": self.inconsistent,
                "inconsistent_count": self.inconsistent_count,
                "duplicate_hashes": self.duplicate_hashes}


def check(ws: Workspace, **options: Any) -> CheckResult:
    """:func:`run_check` with the fields of :class:`CheckConfig` as keywords."""
    return run_check(ws, CheckConfig(**options))


def run_check(ws: Workspace, config: CheckConfig | None = None) -> CheckResult:
    """Look for duplicates across splits, group leaks, boxes outside images, empty classes.

    Args:
        ws: the workspace.
        config: the grouping field of the leak check (default: the workspace's).
    """
    config = config or CheckConfig()
    lock.require_quiet(ws, "check")
    result = CheckResult()
    result.duplicates = checks.spanning_splits(ws, schema.CONTENT_HASH)
    result.group_leaks = checks.spanning_splits(ws, config.group_by or ws.config.split.group_by)
    boxes = checks.ground_truth_boxes(ws)
    bad = np.flatnonzero(outside_image(boxes["xywhn"]))
    result.boxes_outside_count = len(bad)
    for j in bad[:_EXAMPLES]:
        n = int(boxes["sample_index"][j])
        result.boxes_outside.append({"sample_id": str(boxes["ids"][n]),
                                     "filepath": boxes["filepath"][n],
                                     "label": str(boxes["label"][j]),
                                     "bounding_box": boxes["xywhn"][j].tolist()})
    scan = checks.scan_samples(ws, _EXAMPLES)  # one pass: problems, repeated hashes, classes
    classes = scan.classes
    result.empty_classes = [c for c in ws.classes if c not in classes]
    for c, entry in classes.items():
        missing = [s for s in SPLITS if s not in entry["by_split"]]
        if missing and entry["images"] >= len(SPLITS):
            result.classes_missing_from_split[c] = missing
    result.unassigned = checks.count_labeled_without_split(ws)
    result.inconsistent_count, result.inconsistent = scan.inconsistent_count, scan.inconsistent
    result.duplicate_hashes = scan.duplicate_hashes
    return result
