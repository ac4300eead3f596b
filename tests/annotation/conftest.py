"""A workspace with a labeled seed, an unlabeled pool, predictions and a selected round."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO, demo_images, make_yolo
from workbench.curation.splitting import split
from workbench.ingestion.ingest import ingest
from workbench.prediction.imported import import_predictions
from workbench.selection.select import SelectConfig, select
from workbench.store import schema


@dataclass
class RoundWorkspace:
    """``ws`` plus the true boxes of every pool image (from the demo labels)."""

    ws: Any
    truth: dict[str, list[tuple[str, list[float]]]]  # pool filepath -> [(label, xywhn)]
    tmp: Path


def read_truth(image: Path, names: list[str]) -> list[tuple[str, list[float]]]:
    rows = []
    label_file = image.parent.parent / "labels" / f"{image.stem}.txt"
    for line in label_file.read_text().splitlines():
        if line.strip():
            c, cx, cy, w, h = line.split()
            x, y, bw, bh = float(cx) - float(w) / 2, float(cy) - float(h) / 2, float(w), float(h)
            if bw > 0 and bh > 0:
                rows.append((names[int(c)], [x, y, bw, bh]))
    return rows


def build_round(workspace: Any, tmp_path: Path, pool_n: int = 8,
                select_n: int = 5) -> RoundWorkspace:
    import yaml

    names = yaml.safe_load((DEMO / "data.yaml").read_text())["names"]
    seed = make_yolo(tmp_path / "seed", {"train": demo_images("train", 8)})
    ingest(workspace, seed, "yolo")
    split(workspace)
    pool = tmp_path / "pool"
    pool.mkdir()
    images = [p for p in sorted((DEMO / "valid" / "images").glob("*.jpg")) if read_truth(p, names)]
    truth = {}
    for p in images[:pool_n]:
        shutil.copy(p, pool / p.name)
        truth[str((pool / p.name).resolve())] = read_truth(p, names)
    ingest(workspace, pool, "images")
    lines = []
    for fp, boxes in truth.items():
        dets = [{"label": label, "box": [min(1 - b[2], b[0] + 0.01), b[1], b[2], b[3]],
                 "confidence": 0.5} for label, b in boxes]
        lines.append(json.dumps({"filepath": fp, "detections": dets}))
    (tmp_path / "preds.jsonl").write_text("\n".join(lines) + "\n")
    import_predictions(workspace, tmp_path / "preds.jsonl", "p1")
    select(workspace, SelectConfig(n=select_n, strategy="random", run="p1", round="round-1"))
    return RoundWorkspace(workspace, truth, tmp_path)


@pytest.fixture
def round_ws(workspace: Any, tmp_path: Path) -> RoundWorkspace:
    return build_round(workspace, tmp_path)


def snapshot(ws: Any) -> list[tuple]:
    """Everything an import may change, per sample."""
    return [(str(d["_id"]), json.dumps(d.get(schema.GROUND_TRUTH), default=str),
             d.get(schema.STATUS), d.get(schema.SPLIT), sorted(d.get("tags") or []))
            for d in ws.samples.find({}).sort("_id", 1)]
