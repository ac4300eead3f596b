"""The simulated annotator: reveals hidden ground truth through the real import path.

The truth of the pool is read once from the source workspace and kept outside the
simulation's dataset, so selection never sees it. When a round is selected, the oracle
exports the round's annotation package exactly as for people, writes the true boxes as the
annotators' ``annotations.coco.json`` into it, and imports it with
:func:`~workbench.annotation.api.import_annotations`.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from workbench.annotation.api import (
    ImageBoxes,
    ImportConfig,
    ImportResult,
    PackageConfig,
    coco_document,
    export_package,
    import_annotations,
    read_package_manifest,
)
from workbench.core.segments import segments
from workbench.store import simulation
from workbench.store.workspace import Workspace


class Oracle:
    """The true boxes of a set of samples, by sample id (hex)."""

    def __init__(self, truth: dict[str, tuple[list[str], list[list[float]]]]) -> None:
        self.truth = truth

    @classmethod
    def from_workspace(cls, ws: Workspace, ids: list[Any]) -> Oracle:
        """Read the ground truth of the samples ``ids`` (raw ids; one bulk read)."""
        boxes = simulation.ground_truth_of(ws, ids)
        starts, ends = segments(boxes["sample_index"], range(len(boxes["ids"])))
        labels = boxes["label"].tolist()
        xywhn = boxes["xywhn"].tolist()
        return cls({str(sid): (labels[s:e], xywhn[s:e])
                    for sid, s, e in zip(boxes["ids"], starts, ends, strict=True)})

    def annotate(self, ws: Workspace, round_name: str, folder: Path) -> ImportResult:
        """Export the round's package, answer it with the truth, import the answer."""
        folder.mkdir(parents=True, exist_ok=True)
        pkg = folder / f"{round_name}.zip"
        export_package(ws, PackageConfig(out=pkg, round=round_name, thumbnails=False,
                                         examples_per_class=0))
        manifest = read_package_manifest(pkg)
        answers: list[ImageBoxes] = [(*self.truth.get(im.sample_id, ([], [])), None)
                                     for im in manifest.images]
        doc = coco_document(manifest.images, manifest.classes, answers,
                            info={"description": "simulated annotator (oracle)"})
        with zipfile.ZipFile(pkg, "a") as zf:
            zf.writestr("annotations.coco.json", json.dumps(doc))
        return import_annotations(ws, ImportConfig(path=pkg, format="coco"), source="oracle")
