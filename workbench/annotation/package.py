"""``workbench annotate export``: one self-contained zip for an annotation team.

Layout: ``manifest.json``, ``images/<sample_id><ext>`` (original bytes), optional
``predictions.coco.json`` and the same as ``labelstudio_tasks.json`` (pre-annotations,
always marked as predictions), ``guidelines.md`` with example crops in ``guidelines/``, and
``thumbnails/``. The zip is written beside its destination and renamed into place, then the
exported images become ``in_annotation`` and the package is recorded as a run.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

import workbench
from workbench.annotation import lsjson
from workbench.annotation.cocojson import ImageBoxes, coco_document
from workbench.annotation.config import PackageConfig
from workbench.annotation.manifest import MANIFEST, Manifest, PackageImage, classes_hash
from workbench.errors import ConfigError, SourceError, WorkbenchError
from workbench.media.probe import pil_open
from workbench.store import annotating, datasets, predictions, query, runs, views
from workbench.store.annotating import mark_in_annotation
from workbench.store.runs import RunKind
from workbench.store.view_data import attributions
from workbench.store.workspace import Workspace

KIND = RunKind.ANNOTATE_EXPORT
THUMB_SIZE = 256
CROP_SIZE = 160
Progress = Callable[[str, int, int], None]

RULES = """\
## Labeling rules

1. Draw one tight, axis-aligned box around every visible object of a listed class: the box
   touches the object's outermost visible pixels on all four sides.
2. Box only the visible part of a partly hidden object; skip an object when less than about
   a fifth of it is visible or when you cannot tell its class.
3. Use only the class names listed here, spelled exactly as listed. Objects of other kinds get
   no box.
4. An image with no object of a listed class is a valid answer: submit it with no boxes
   (do not skip it).
5. Pre-annotations are a model's guesses. Check every box: fix its extent and class, delete
   wrong ones, and add what the model missed.
6. Do not rename, resize, rotate or re-encode the images: annotations are matched to images
   by file name and checked against their content.
"""


def resolve_match(ws: Workspace, cfg: PackageConfig) -> tuple[dict[str, Any], str | None]:
    """The sample filter and round name of what ``cfg`` sends (a view, or a round)."""
    if cfg.round and cfg.view:
        raise ConfigError("give --round or --view, not both")
    if cfg.view:
        return views.view_match(cfg.view), None
    name = cfg.round
    if name is None:
        rounds = runs.list_runs(ws, RunKind.SELECT)
        if not rounds:
            raise ConfigError("no selection round yet: run `workbench select` first, or pass "
                              "--view (e.g. --view status:unlabeled)")
        name = str(rounds[-1]["_id"])
    return annotating.round_match(name), name


def _file_name(sample_id: str, filepath: str) -> str:
    ext = os.path.splitext(filepath)[1].lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", ext):
        ext = ".img"
    return sample_id + ext


def _upright(src: Any) -> Any:
    """A PIL image turned as displayed (EXIF orientation), the frame of sizes and boxes."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(src).convert("RGB")


def _thumbnail(path: str) -> bytes:
    with pil_open(path) as src:
        src.draft("RGB", (THUMB_SIZE, THUMB_SIZE))
        im = _upright(src)
        im.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _crop(path: str, xywhn: list[float]) -> bytes:
    with pil_open(path) as src:
        im = _upright(src)
        w, h = im.size
        x, y, bw, bh = xywhn
        pad = 0.1
        box = (max(0, int((x - pad * bw) * w)), max(0, int((y - pad * bh) * h)),
               min(w, int((x + bw * (1 + pad)) * w) + 1), min(h, int((y + bh * (1 + pad)) * h) + 1))
        crop = im.crop(box)
        crop.thumbnail((CROP_SIZE, CROP_SIZE))
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "class"


def _guidelines(ws: Workspace, cfg: PackageConfig) -> tuple[str, dict[str, bytes]]:
    """``guidelines.md`` and its example crops (largest labeled train boxes per class)."""
    if cfg.examples_per_class > 0:
        boxes = query.box_arrays(ws, views.labeled_match("split:train"))
    else:  # e.g. the simulated annotator: the rules without example crops
        boxes = {"xywhn": np.zeros((0, 4)), "label": np.zeros(0, dtype=str),
                 "sample_index": np.zeros(0, dtype=np.int64), "filepath": []}
    area = boxes["xywhn"][:, 2] * boxes["xywhn"][:, 3]
    lines = ["# Annotation guidelines", "",
             f"Dataset `{ws.config.name}`. Label every object of these "
             f"{len(ws.classes)} classes:", ""]
    crops: dict[str, bytes] = {}
    for cls in ws.classes:
        idx = np.flatnonzero(boxes["label"] == cls)
        idx = idx[np.argsort(-area[idx], kind="stable")]
        picked: list[int] = []
        seen: set[int] = set()
        for i in idx.tolist():
            if len(picked) >= cfg.examples_per_class:
                break
            img = int(boxes["sample_index"][i])
            if img not in seen:
                picked.append(i)
                seen.add(img)
        lines.append(f"### {cls}")
        refs = []
        for j, i in enumerate(picked):
            path = boxes["filepath"][int(boxes["sample_index"][i])]
            try:
                name = f"guidelines/{_slug(cls)}-{j + 1}.jpg"
                crops[name] = _crop(path, boxes["xywhn"][i].tolist())
                refs.append(f"![{cls} example {j + 1}]({name})")
            except OSError:
                continue
        lines.append(" ".join(refs) if refs else "_(no labeled example yet)_")
        lines.append("")
    lines.append(RULES)
    if cfg.guidelines is not None:
        if not cfg.guidelines.is_file():
            raise SourceError(f"--guidelines {cfg.guidelines}: no such file")
        lines += ["## Project rules", "", cfg.guidelines.read_text(encoding="utf-8")]
    return "\n".join(lines) + "\n", crops


def pre_annotations(ws: Workspace, run: str, match: dict[str, Any], images: list[PackageImage],
                    prefix: str, min_conf: float = 0.0
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``predictions.coco.json`` and the Label Studio tasks with the run's boxes (those with
    confidence >= ``min_conf``).

    When the run has a stored calibration (``workbench calibrate --run RUN``) and was not
    predicted under one, its map is applied first: annotators see (and ``min_conf`` cuts)
    calibrated confidences.
    """
    from workbench.calibration import api as calibration

    field = predictions.field_name("pred", run)
    if not datasets.has_sample_field(ws, field):
        raise ConfigError(f"--pre-annotations {run}: no prediction run of that name (field "
                          f"{field}); see `workbench runs`")
    boxes = query.box_arrays(ws, match, field, attrs=("confidence",))
    found = None if calibration.predicted_under(ws, run) else calibration.for_run(ws, run)
    if found is not None:
        known = ~np.isnan(boxes["confidence"])
        cls = calibration.class_ids(boxes["label"], ws.classes)
        boxes["confidence"][known] = found[1].apply(boxes["confidence"][known], cls[known])
    confident = np.nan_to_num(boxes["confidence"], nan=1.0) >= min_conf
    for key in ("sample_index", "label", "xywhn", "confidence"):
        boxes[key] = boxes[key][confident]
    pos = {str(sid): k for k, sid in enumerate(boxes["ids"])}
    starts = np.searchsorted(boxes["sample_index"], np.arange(len(boxes["ids"])), side="left")
    ends = np.searchsorted(boxes["sample_index"], np.arange(len(boxes["ids"])), side="right")
    labels = boxes["label"].tolist()
    xywhn = boxes["xywhn"].tolist()
    conf = np.nan_to_num(boxes["confidence"], nan=0.0).tolist()
    per_image: list[ImageBoxes] = []
    tasks: list[dict[str, Any]] = []
    for im in images:
        k = pos[im.sample_id]
        s, e = int(starts[k]), int(ends[k])
        per_image.append((labels[s:e], xywhn[s:e], conf[s:e]))
        results = lsjson.rect_results(labels[s:e], xywhn[s:e], im.width, im.height)
        tasks.append(lsjson.task(prefix + im.file_name, im.sample_id, im.file_name,
                                 lsjson.prediction(run, results, conf[s:e])))
    coco = coco_document(images, ws.classes, per_image, info={
        "workbench_kind": "predictions", "run": run,
        "calibration": None if found is None else found[0],
        "description": "model predictions (pre-annotations), not ground truth"})
    return coco, tasks


def package_images(ws: Workspace, match: dict[str, Any]) -> tuple[list[PackageImage], list[str],
                                                                 list[Any]]:
    """The package entries, file paths and raw ids of the samples matching ``match``."""
    found = annotating.package_samples(ws, match)
    images = [PackageImage(sid, _file_name(sid, path), sha, w, h)
              for sid, path, sha, w, h in zip(found.sample_ids, found.filepaths,
                                              found.content_hash, found.width, found.height,
                                              strict=True)]
    return images, found.filepaths, found.ids


def new_manifest(ws: Workspace, package_id: str, round_name: str | None, view: str | None,
                 pre_annotations: str | None, images: list[PackageImage],
                 created: dt.datetime) -> Manifest:
    """The manifest of a package (or a Label Studio push) of ``images`` from ``ws``."""
    return Manifest(
        package_id=package_id,
        workspace={"name": ws.config.name, "dataset_id": datasets.dataset_id(ws),
                   "root": str(ws.root)},
        round=round_name, view=view, created_at=created.isoformat(),
        workbench_version=workbench.__version__, classes=ws.classes,
        classes_hash=classes_hash(ws.classes), pre_annotations=pre_annotations, images=images)


def export_package(ws: Workspace, cfg: PackageConfig, progress: Progress | None = None
                   ) -> dict[str, Any]:
    """Write the package; see the module docstring.

    Returns:
        ``{"package_id", "path", "images", "boxes_pre_annotated", "round", "size_bytes",
        "seconds"}``.
    """
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    match, round_name = resolve_match(ws, cfg)
    images, paths, ids = package_images(ws, match)
    if not images:
        raise ConfigError(f"nothing to export: no samples match {cfg.view or round_name!r}")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise SourceError(f"{len(missing)} image files are missing (e.g. {missing[0]}); restore "
                          "them or leave those samples out of the view")
    unsized = [im.sample_id for im in images if not (im.width and im.height)]
    if unsized:
        raise WorkbenchError(f"{len(unsized)} samples have no image size (e.g. {unsized[0]}); "
                             "re-ingest them")
    if not ws.classes:
        raise ConfigError("the workspace has no class list yet; set classes in workbench.yaml")
    package_id = runs.new_run_id("package")
    manifest = new_manifest(ws, package_id, round_name, cfg.view, cfg.pre_annotations, images,
                            started)
    coco = tasks = None
    if cfg.pre_annotations:
        coco, tasks = pre_annotations(ws, cfg.pre_annotations, match, images, cfg.image_prefix,
                                      cfg.pre_annotation_conf)
    else:
        tasks = [lsjson.task(cfg.image_prefix + im.file_name, im.sample_id, im.file_name, None)
                 for im in images]
    guidelines, crops = _guidelines(ws, cfg)
    out = cfg.out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest.to_dict(), indent=1))
            if coco is not None:
                zf.writestr("predictions.coco.json", json.dumps(coco))
            zf.writestr("labelstudio_tasks.json", json.dumps(tasks))
            zf.writestr("guidelines.md", guidelines)
            credits = attributions(ws, match)
            if credits:  # licenses and attributions of the images' sources (FathomNet ...)
                zf.writestr("attribution.json", json.dumps(credits, indent=1))
            for name, data in crops.items():
                zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
            for k, (im, path) in enumerate(zip(images, paths, strict=True)):
                zf.write(path, f"images/{im.file_name}", compress_type=zipfile.ZIP_STORED)
                if progress and (k % 100 == 0 or k == len(images) - 1):
                    progress("images", k + 1, len(images))
            if cfg.thumbnails:
                with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
                    for k, (im, data) in enumerate(zip(images, pool.map(_thumbnail, paths),
                                                       strict=True)):
                        zf.writestr(f"thumbnails/{im.sample_id}.jpg", data,
                                    compress_type=zipfile.ZIP_STORED)
                        if progress and (k % 100 == 0 or k == len(images) - 1):
                            progress("thumbnails", k + 1, len(images))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    mark_in_annotation(ws, ids)
    n_boxes = len(coco["annotations"]) if coco else 0
    outputs = {"package_id": package_id, "path": str(out), "images": len(images),
               "boxes_pre_annotated": n_boxes, "round": round_name,
               "size_bytes": out.stat().st_size, "seconds": round(time.perf_counter() - t0, 3)}
    runs.record_run(ws, KIND, package_id,
                    {"round": round_name, "view": cfg.view, "pre_annotations": cfg.pre_annotations,
                     "pre_annotation_conf": cfg.pre_annotation_conf,
                     "thumbnails": cfg.thumbnails, "out": str(out)},
                    {**outputs, "sample_ids": ids}, started)
    return outputs
