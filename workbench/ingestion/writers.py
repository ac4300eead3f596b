"""Dataset writers of ``workbench export-dataset``: YOLO, COCO and Hugging Face, behind ``WRITERS``.

Every writer takes the rows of :func:`workbench.store.view_data.labeled_rows` (flat box arrays,
one entry per image) and writes into an empty folder; boxes are converted with numpy over the
flat arrays. What they write is what the matching ingest source reads back, boxes unchanged.
Adding a format is one function and one :meth:`~workbench.registry.Registry.register` call.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.optional import require
from workbench.registry import Registry

__all__ = ["WRITERS", "ExportData", "Writer", "hf_split", "image_names"]


@dataclass
class ExportData:
    """What a writer writes.

    Attributes:
        filepath: ``[N]`` image files; ``content_hash``: ``[N]`` their sha256;
            ``split``: ``[N]`` ``train``/``val``/``test``; ``width``, ``height``: ``[N]``
            displayed pixels; ``sample_id``, ``group``, ``source_id``: ``[N]`` provenance
            (None where unset).
        sample_index: ``(M,)`` image of each box; ``cls``: ``(M,)`` class ids;
            ``xywhn``: ``(M, 4)`` relative ``[x, y, w, h]``.
        classes: ``K`` class names in id order.
        link: hard-link images instead of copying.
    """

    filepath: list[str]
    content_hash: list[str]
    split: list[str]
    width: list[int]
    height: list[int]
    sample_id: list[str]
    group: list[str | None]
    source_id: list[str | None]
    sample_index: np.ndarray
    cls: np.ndarray
    xywhn: np.ndarray
    classes: list[str]
    link: bool = False

    def boxes_of(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(image, cls (k,), xywhn (k, 4))`` per image, in image order (one sort, slices)."""
        order = np.argsort(self.sample_index, kind="stable")
        idx = self.sample_index[order]
        starts = np.searchsorted(idx, np.arange(len(self.filepath)), side="left")
        ends = np.searchsorted(idx, np.arange(len(self.filepath)), side="right")
        for n in range(len(self.filepath)):
            rows = order[starts[n]:ends[n]]
            yield n, self.cls[rows], self.xywhn[rows]


#: ``write(data, out) -> None`` into an existing empty folder.
Writer = Callable[[ExportData, Path], None]

WRITERS: Registry[Writer] = Registry("dataset format")


def image_names(filepaths: list[str], hashes: list[str]) -> list[str]:
    """Unique file names for the exported images: ``<hash[:12]>-<original name>``."""
    return [f"{h[:12]}-{Path(p).name}" if h else Path(p).name
            for p, h in zip(filepaths, hashes, strict=True)]


def _place(src: str, dst: Path, link: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def _write_yolo(data: ExportData, out: Path, names: list[str]) -> None:
    """``data.yaml`` (``path: .``, one key per split, ``names``), ``images/<split>/`` and
    ``labels/<split>/`` (``cls cx cy w h`` relative, 9 decimals)."""
    import yaml

    for n, cls, xywhn in data.boxes_of():
        split = data.split[n]
        image = out / "images" / split / names[n]
        _place(data.filepath[n], image, data.link)
        centre = np.c_[xywhn[:, 0] + xywhn[:, 2] / 2, xywhn[:, 1] + xywhn[:, 3] / 2, xywhn[:, 2:]]
        lines = [f"{c} " + " ".join(f"{v:.9f}" for v in row) for c, row in zip(
            cls.tolist(), centre.tolist(), strict=True)]
        label = out / "labels" / split / (Path(names[n]).stem + ".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(line + "\n" for line in lines))
    spec: dict[str, Any] = {"path": "."}
    for split in ("train", "val", "test"):
        if split in data.split:
            spec[split] = f"images/{split}"
    spec["names"] = dict(enumerate(data.classes))
    (out / "data.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def _write_coco(data: ExportData, out: Path, names: list[str]) -> None:
    """``images/`` and one ``annotations.json`` (``bbox`` in pixels, category ids 1..K; each
    image also carries its ``split`` and workbench ``sample_id``)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for n, cls, xywhn in data.boxes_of():
        _place(data.filepath[n], out / "images" / names[n], data.link)
        w, h = data.width[n], data.height[n]
        images.append({"id": n + 1, "file_name": f"images/{names[n]}", "width": w, "height": h,
                       "split": data.split[n], "sample_id": data.sample_id[n]})
        px = xywhn * np.array([w, h, w, h], dtype=np.float64)
        for c, box in zip(cls.tolist(), px.tolist(), strict=True):
            annotations.append({"id": len(annotations) + 1, "image_id": n + 1,
                                "category_id": c + 1, "bbox": box,
                                "area": box[2] * box[3], "iscrowd": 0})
    doc = {"info": {"description": "exported by workbench export-dataset"},
           "images": images, "annotations": annotations,
           "categories": [{"id": k + 1, "name": c} for k, c in enumerate(data.classes)]}
    (out / "annotations.json").write_text(json.dumps(doc))


def hf_split(split: str) -> str:
    """The Hugging Face name of a workspace split (``val`` is ``validation``)."""
    return {"val": "validation"}.get(split, split)


def _write_hf(data: ExportData, out: Path, names: list[str]) -> None:
    """A ``DatasetDict.save_to_disk`` folder: per split ``image`` (bytes embedded),
    ``image_id``, ``width``, ``height``, ``objects: {bbox (COCO pixels), category
    (ClassLabel)}``, ``group``, ``source_id``. Rows are generated one image at a time."""
    datasets = require("datasets", "sources", what="export-dataset --format hf")

    datasets.disable_progress_bars()  # the CLI shows its own spinner; --json stays clean
    features = datasets.Features({
        "image": datasets.Image(), "image_id": datasets.Value("string"),
        "width": datasets.Value("int32"), "height": datasets.Value("int32"),
        "objects": datasets.Sequence({
            "bbox": datasets.Sequence(datasets.Value("float64"), length=4),
            "category": datasets.ClassLabel(names=list(data.classes))}),
        "group": datasets.Value("string"), "source_id": datasets.Value("string")})
    per_image = list(data.boxes_of())

    def rows(split: str) -> Iterator[dict[str, Any]]:
        for n, cls, xywhn in per_image:
            if data.split[n] != split:
                continue
            w, h = data.width[n], data.height[n]
            px = xywhn * np.array([w, h, w, h], dtype=np.float64)
            yield {"image": {"bytes": Path(data.filepath[n]).read_bytes(), "path": names[n]},
                   "image_id": data.sample_id[n], "width": w, "height": h,
                   "objects": {"bbox": px.tolist(), "category": cls.tolist()},
                   "group": data.group[n], "source_id": data.source_id[n]}

    cache = out.parent / f".{out.name}.hf-cache"
    try:
        splits = {hf_split(s): datasets.Dataset.from_generator(
            rows, gen_kwargs={"split": s}, features=features, cache_dir=str(cache),
            keep_in_memory=False)
            for s in ("train", "val", "test") if s in data.split}
        datasets.DatasetDict(splits).save_to_disk(str(out))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _with_names(write: Callable[[ExportData, Path, list[str]], None]) -> Writer:
    def run(data: ExportData, out: Path) -> None:
        write(data, out, image_names(data.filepath, data.content_hash))

    return run


WRITERS.register("yolo", _with_names(_write_yolo),
                 help="data.yaml, images/<split>/ and labels/<split>/")
WRITERS.register("coco", _with_names(_write_coco), help="images/ and annotations.json")
WRITERS.register("hf", _with_names(_write_hf),
                 help="a Hugging Face save_to_disk DatasetDict (train/validation/test)")

