"""Shared fixture of the selection/prediction benchmarks: a synthetic pool in a fresh workspace.

The samples are plain pool documents (no image files are read by these benchmarks); the
predictions are random but shaped like a detector's: boxes, confidences and class vectors.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from bson import ObjectId

from workbench.core.segments import segments


def make_workspace(classes: list[str]) -> tuple[Any, Path]:
    """A new embedded-mongod workspace in a temporary folder."""
    import workbench as wb

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    ws = wb.init_workspace(tmp / "ws", name=f"bench-{uuid.uuid4().hex[:8]}", classes=classes)
    ws.dataset  # noqa: B018
    return ws, tmp


def add_pool(ws: Any, n: int, start: int = 0) -> list[Any]:
    """Insert ``n`` unlabeled pool samples (numbered from ``start``); return their ids."""
    from workbench.store import bulk

    ds_id = ws.dataset._doc.id
    docs = [{"_id": ObjectId(), "filepath": f"/bench/pool/{i:07d}.jpg", "tags": ["pool",
             "unlabeled"], "_media_type": "image", "_dataset_id": ds_id,
             "content_hash": hashlib.sha256(str(i).encode()).hexdigest(), "split": "pool",
             "status": "unlabeled", "source": "bench"} for i in range(start, start + n)]
    bulk.insert_documents(ws, docs)
    return [d["_id"] for d in docs]


def random_predictions(n: int, boxes: int, n_classes: int, seed: int = 0) -> dict[str, Any]:
    """Flat arrays for ``n`` images x ``boxes`` boxes with ``n_classes``-class vectors."""
    rng = np.random.default_rng(seed)
    m = n * boxes
    xy = rng.uniform(0, 0.8, (m, 2))
    wh = rng.uniform(0.02, 0.2, (m, 2))
    probs = rng.dirichlet(np.full(n_classes, 0.5), m)
    return {"image_index": np.repeat(np.arange(n), boxes), "xywh": np.c_[xy, wh],
            "confidence": probs.max(axis=1) * rng.uniform(0.3, 1.0, m), "probs": probs,
            "class_id": probs.argmax(axis=1)}


def write_jsonl(path: Path, filepaths: list[str], preds: dict[str, Any],
                classes: list[str], append: bool = False) -> None:
    """The ``predictions import`` file for ``preds`` (``append``: add to ``path``)."""
    boxes = np.round(preds["xywh"], 6).tolist()
    conf = np.round(preds["confidence"], 6).tolist()
    probs = np.round(preds["probs"], 6).tolist()
    cls = preds["class_id"].tolist()
    idx = preds["image_index"]
    starts, ends = segments(idx, np.arange(len(filepaths)))
    with path.open("a" if append else "w") as fh:
        for i, fp in enumerate(filepaths):
            dets = [{"label": classes[cls[k]], "box": boxes[k], "confidence": conf[k],
                     "class_probs": probs[k]} for k in range(starts[i], ends[i])]
            fh.write(json.dumps({"filepath": fp, "detections": dets}) + "\n")


def cleanup(tmp: Path) -> None:
    """Stop the benchmark workspace's mongod and delete its folder."""
    import shutil

    from workbench.store import mongod

    mongod.stop(tmp / "ws" / ".fiftyone-db")
    shutil.rmtree(tmp, ignore_errors=True)
