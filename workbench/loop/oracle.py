"""The simulated annotator: reveals hidden ground truth through the real import path.

The truth of the pool is read once from the source workspace and kept outside the
simulation's dataset, so selection never sees it. When a round is selected, the oracle
exports the round's annotation package exactly as for people, writes the true boxes as the
annotators' ``annotations.coco.json`` into it, and imports it with
:func:`~workbench.annotation.importer.import_annotations`.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from workbench.annotation.cocojson import ImageBoxes, coco_document
from workbench.annotation.importer import ImportResult, import_annotations
from workbench.annotation.manifest import MANIFEST, Manifest
from workbench.annotation.package import ExportConfig, export_package
from workbench.core.segments import segments
from workbench.store import query
from workbench.store.workspace import Workspace


class Oracle:
    """The true boxes of a set of samples, by sample id (hex)."""

    def __init__(self, truth: dict[str, tuple[list[str], list[list[float]]]]) -> None:
        self.truth = truth

    @classmethod
    def from_workspace(cls, ws: Workspace, match: dict[str, Any]) -> Oracle:
        """Read the ground truth of the samples matching ``match`` (one bulk read)."""
        boxes = query.box_arrays(ws, match)
        starts, ends = segments(boxes["sample_index"], range(len(boxes["ids"])))
        labels = boxes["label"].tolist()
        xywhn = boxes["xywhn"].tolist()
        return cls({str(sid): (labels[s:e], xywhn[s:e])
                    for sid, s, e in zip(boxes["ids"], starts, ends, strict=True)})

    def annotate(self, ws: Workspace, round_name: str, folder: Path) -> ImportResult:
        """Export the round's package, answer it with the truth, import the answer."""
        folder.mkdir(parents=True, exist_ok=True)
        pkg = folder / f"{round_name}.zip"
        export_package(ws, ExportConfig(out=pkg, round=round_name, thumbnails=False,
                                        examples_per_class=0))
        with zipfile.ZipFile(pkg) as zf:
            manifest = Manifest.from_dict(json.loads(zf.read(MANIFEST)), str(pkg))
        answers: list[ImageBoxes] = [(*self.truth.get(im.sample_id, ([], [])), None)
                                     for im in manifest.images]
        doc = coco_document(manifest.images, manifest.classes, answers,
                            info={"description": "simulated annotator (oracle)"})
        with zipfile.ZipFile(pkg, "a") as zf:
            zf.writestr("annotations.coco.json", json.dumps(doc))
        return import_annotations(ws, pkg, "coco", source="oracle")
