"""``workbench export-dataset``: the labeled images of a view and their boxes, as a dataset.

The inverse of ingest: what is written here, ingested again with the matching format, gives
the same images and the same boxes. The folder is written beside ``out`` under a temporary
name and renamed into place at the end, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from workbench.core.labels import class_ids
from workbench.errors import WorkbenchError
from workbench.ingestion.export_config import ExportDatasetConfig, ExportDatasetResult
from workbench.ingestion.writers import WRITERS, ExportData, hf_split
from workbench.store.view_data import labeled_rows
from workbench.store.workspace import Workspace

__all__ = ["ExportDatasetError", "run_export"]

#: A labeled image's split when it has none of train/val/test (written with the train images).
UNSPLIT = "train"


class ExportDatasetError(WorkbenchError):
    """The view cannot be exported as asked; nothing was written."""


def _sizes(rows: dict[str, list[int | None]], paths: list[str]) -> tuple[list[int], list[int]]:
    """Width and height of each image: the stored metadata, else read from the file header."""
    width, height = list(rows["width"]), list(rows["height"])
    missing = [n for n in range(len(paths)) if not width[n] or not height[n]]
    if missing:
        from workbench.media.probe import probe

        for n, info in zip(missing, probe([Path(paths[n]) for n in missing]), strict=True):
            if info.error or not info.width or not info.height:
                raise ExportDatasetError(f"{paths[n]}: cannot read the image size ({info.error});"
                                         " restore the file or leave it out of the view")
            width[n], height[n] = info.width, info.height
    return [int(w) for w in width], [int(h) for h in height]  # type: ignore[arg-type]


def run_export(ws: Workspace, config: ExportDatasetConfig) -> ExportDatasetResult:
    """Write the labeled images of ``config.view`` with their ground truth into ``config.out``.

    Raises:
        ExportDatasetError: the view has no labeled images, ``out`` exists and is not empty
            (without ``overwrite``), an image file is missing.
        ConfigError: the view spec is invalid.
    """
    started = time.perf_counter()
    out = Path(config.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ExportDatasetError(f"{out} is a file; give a folder to write the dataset into")
    if out.is_dir() and any(out.iterdir()) and not config.overwrite:
        raise ExportDatasetError(f"{out} exists and is not empty; choose another folder or pass "
                                 "--overwrite")
    rows = labeled_rows(ws, config.view)
    paths: list[str] = rows["filepath"]
    if not paths:
        raise ExportDatasetError(f"the view {config.view!r} has no labeled images; pick a view "
                                 "with labels (e.g. split:train or all)")
    gone = [p for p in paths if not Path(p).is_file()]
    if gone:
        raise ExportDatasetError(f"{len(gone)} image files of the view are missing, e.g. "
                                 f"{gone[0]}; run `workbench check` to find and fix them")
    classes = list(ws.classes)
    cls = class_ids(rows["label"], classes)
    if (cls < 0).any():
        unknown = sorted(set(np.asarray(rows["label"])[cls < 0].tolist()))
        raise ExportDatasetError(f"boxes with labels outside the workspace's classes: {unknown}; "
                                 "add them with `workbench ingest --add-classes` first")
    result = ExportDatasetResult(format=config.format, out=str(out), classes=classes)
    split = [s if s in ("train", "val", "test") else UNSPLIT for s in rows["split"]]
    unsplit = sum(s not in ("train", "val", "test") for s in rows["split"])
    if unsplit:
        result.warnings.append(f"{unsplit} labeled images have no train/val/test split; "
                               f"written with the {UNSPLIT} images (run `workbench split` to "
                               "give them one)")
    width, height = _sizes(rows, paths)
    data = ExportData(filepath=paths, content_hash=rows["content_hash"], split=split,
                      width=width, height=height, sample_id=[str(i) for i in rows["ids"]],
                      group=rows["group"], source_id=rows["source_id"],
                      sample_index=np.asarray(rows["sample_index"], dtype=np.int64),
                      cls=cls, xywhn=np.asarray(rows["xywhn"], dtype=np.float64).reshape(-1, 4),
                      classes=classes, link=config.link and config.format != "hf")
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    try:
        WRITERS.get(config.format)(data, tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.images, result.boxes = len(paths), len(cls)
    result.splits = {hf_split(s) if config.format == "hf" else s: split.count(s)
                     for s in ("train", "val", "test") if s in split}
    result.seconds = round(time.perf_counter() - started, 3)
    return result
