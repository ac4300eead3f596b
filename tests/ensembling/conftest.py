"""A workspace of 4 real pool images with prediction runs of known boxes (``predictions
import`` of hand-written JSONL), and the fusion each method must give of them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLASSES, demo_images

#: Per image (0..3), the boxes of run ``a`` and of run ``b``: (label, [x, y, w, h], conf).
#: ``b`` has no line for image 3, so an ensemble of ``a`` and ``b`` skips it.
A = {0: [("fish", [0.10, 0.10, 0.20, 0.20], 0.9), ("shark", [0.60, 0.60, 0.20, 0.20], 0.6)],
     1: [],
     2: [("fish", [0.30, 0.30, 0.10, 0.10], 0.8)],
     3: [("fish", [0.50, 0.50, 0.10, 0.10], 0.7)]}
B = {0: [("fish", [0.12, 0.10, 0.20, 0.20], 0.7)],
     1: [("penguin", [0.20, 0.20, 0.30, 0.30], 0.4)],
     2: [("fish", [0.30, 0.30, 0.10, 0.10], 0.8)]}
#: Only image 3: shares no image with ``b``.
C = {3: [("fish", [0.50, 0.50, 0.10, 0.10], 0.5)]}


def probs(label: str, conf: float) -> list[float]:
    """A class vector with ``conf`` on ``label`` and the rest spread evenly."""
    rest = (1.0 - conf) / (len(CLASSES) - 1)
    return [conf if c == label else rest for c in CLASSES]


def write_jsonl(path: Path, files: list[str], boxes: dict[int, list[Any]],
                with_probs: bool = True) -> Path:
    """A ``predictions import`` file of ``boxes`` (image index -> boxes) on ``files``."""
    lines = []
    for i, dets in boxes.items():
        lines.append(json.dumps({"filepath": files[i], "detections": [
            {"label": label, "box": box, "confidence": conf,
             **({"class_probs": probs(label, conf)} if with_probs else {})}
            for label, box, conf in dets]}))
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class EnsembleWorkspace:
    """``ws`` with runs ``a``, ``b``, ``c`` and ``a2`` (``a`` again) imported; ``files``: the
    pool images in the order of the tables above; ``ids``: their sample ids."""

    ws: Any
    files: list[str]
    ids: list[Any]
    tmp: Path


def build(workspace: Any, tmp_path: Path) -> EnsembleWorkspace:
    from workbench.ingestion.ingest import ingest
    from workbench.prediction.imported import import_predictions

    workspace.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("valid", 4):
        shutil.copy(p, pool / p.name)
    ingest(workspace, pool, "images")
    files = [str((pool / p.name).resolve()) for p in demo_images("valid", 4)]
    by_path = {d["filepath"]: d["_id"] for d in workspace.samples.find({}, {"filepath": 1})}
    for name, boxes in (("a", A), ("b", B), ("c", C), ("a2", A)):
        import_predictions(workspace, write_jsonl(tmp_path / f"{name}.jsonl", files, boxes),
                           name)
    return EnsembleWorkspace(workspace, files, [by_path[f] for f in files], tmp_path)


@pytest.fixture
def ens_ws(workspace: Any, tmp_path: Path) -> EnsembleWorkspace:
    return build(workspace, tmp_path)


def stored(ws: Any, field: str, sample_id: Any) -> list[dict[str, Any]]:
    """The boxes of ``field`` on one sample, as stored."""
    doc = ws.samples.find_one({"_id": sample_id}, {field: 1}) or {}
    return list((doc.get(field) or {}).get("detections") or [])


def state(ws: Any) -> tuple[list[str], list[str]]:
    """What a refused command must leave alone: the run ids and the sample fields."""
    from workbench.store import schema

    runs = sorted(str(d["_id"]) for d in ws.runs.find({"dataset": ws.config.name}, {"_id": 1}))
    return runs, sorted(schema.field_names(ws))
