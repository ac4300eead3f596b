"""Hugging Face datasets: ``workbench ingest hf:REPO_OR_PATH`` through the ``datasets`` library.

``REPO_OR_PATH`` is a local ``save_to_disk`` folder (a ``Dataset`` or a ``DatasetDict``), a
local parquet file or folder of parquet files, a local imagefolder (images with a
``metadata.jsonl``/``metadata.csv``), or a Hub id (streamed, at ``--revision``).

Layouts detected: the image column is the one with an ``Image`` feature; the boxes are a
column of objects holding a bbox key (``bbox``/``bboxes``) and a category key
(``category``/``categories``/``label``/``labels``) — ``objects: {bbox, category}`` — or those
two keys as top-level columns. Class names come from the category's ``ClassLabel``; plain
strings are names; plain integers need ``--class-map`` (``0: fish``). ``--bbox-format``:
``coco`` (x, y, w, h pixels, default), ``voc`` (x1, y1, x2, y2 pixels), ``yolo`` (cx, cy, w, h
relative), ``albumentations`` (x1, y1, x2, y2 relative).

Images are never decoded: their bytes are written once, content-addressed, under the
workspace's ``media/hf/`` (sizes for pixel boxes come from the image header), or a row's local
file is used as it is. Rows are read in batches of :data:`BATCH_SIZE`, so memory stays flat.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.boxes import cxcywhn_to_xyxyn
from workbench.errors import SourceError
from workbench.ingestion.sources.class_map import apply_class_map, load_class_map
from workbench.media.probe import ImageInfo, probe_bytes, probe_file
from workbench.media.records import (
    IMAGE_SUFFIXES,
    ImageRecord,
    SourceBatch,
    SourceOptions,
    normalize_split,
    shown,
)
from workbench.optional import require

BBOX_FORMATS = ("coco", "voc", "yolo", "albumentations")
BBOX_KEYS = ("bbox", "bboxes")
CATEGORY_KEYS = ("category", "categories", "label", "labels")
BATCH_SIZE = 256
WORKERS = 4  #: threads hashing and writing image bytes (both release the GIL)
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp", "image/webp": ".webp",
        "image/tiff": ".tif", "image/gif": ".gif"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_LOCAL_HOWTO = ("to ingest a local copy, save it on a machine with access: "
                "`datasets.load_dataset(REPO).save_to_disk(DIR)` (or copy the repo's "
                "parquet files), then `workbench ingest hf:DIR`")


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Read a Hugging Face dataset split into a batch; see the module docstring.

    Raises:
        SourceError: the dataset cannot be opened, the split does not exist, or the columns
            do not match a known layout (the message lists the columns and the flags to set).
    """
    params = options.params
    spec = options.spec if options.spec is not None else str(path)
    bbox_format = params.get("bbox_format") or "coco"
    if bbox_format not in BBOX_FORMATS:
        raise SourceError(f"--bbox-format {bbox_format!r} is not one of "
                          f"{', '.join(BBOX_FORMATS)}")
    if options.workspace_root is None:
        raise SourceError("hf ingest needs a workspace to write the images into")
    mapping = load_class_map(params.get("class_map"))
    require("datasets", "sources", what="ingest hf:")
    dataset, split = _open(spec, params)
    where = f"{spec}[{split}]"
    import datasets

    if dataset.features is None:  # a streamed dataset whose columns are known from its rows
        dataset = dataset._resolve_features()
    layout = _Layout(dataset.features, params, where, options.unlabeled, bool(mapping))
    dataset = dataset.select_columns(layout.columns)
    dataset = dataset.cast_column(layout.image, datasets.Image(decode=False))
    batch = SourceBatch()
    record_split = normalize_split(split)
    if not options.unlabeled:
        batch.class_names = list(dict.fromkeys(apply_class_map(layout.names, mapping)))
    if record_split is not None:
        batch.split_origin = f"the Hugging Face split {split!r} of {spec}"
    limit = params.get("limit")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        reader = _RowReader(batch, layout, mapping, bbox_format, options.unlabeled,
                            options.workspace_root / "media" / "hf", where,
                            (record_split, split), pool)
        for rows in dataset.iter(batch_size=min(BATCH_SIZE, limit or BATCH_SIZE)):
            if not reader.add(rows, limit):
                break
        reader.flush()
    if reader.rows == 0:
        raise SourceError(f"{where}: the split has no rows")
    return batch


def _open(spec: str, params: dict[str, Any]) -> tuple[Any, str]:
    """The split to read (a ``Dataset`` or an ``IterableDataset``) and its name."""
    import datasets

    wanted = params.get("split")
    local = Path(spec).expanduser()
    if local.exists():
        local = local.resolve()
        if (local / "dataset_dict.json").is_file() or (local / "state.json").is_file():
            loaded = datasets.load_from_disk(str(local))
        elif local.suffix == ".parquet" or (local.is_dir() and any(local.rglob("*.parquet"))):
            kind = "data_files" if local.is_file() else "data_dir"
            loaded = _load(spec, "parquet", **{kind: str(local)})
        elif local.is_dir() and (any(local.rglob("metadata.jsonl"))
                                 or any(local.rglob("metadata.csv"))):
            loaded = _load(spec, "imagefolder", data_dir=str(local))
        else:
            raise SourceError(
                f"{local}: not a Hugging Face dataset; expected a save_to_disk folder "
                "(dataset_dict.json or state.json), parquet files, or an imagefolder (images "
                "with a metadata.jsonl or metadata.csv)")
    elif spec.startswith(("/", ".", "~")) or local.suffix or not _HUB_ID.match(spec):
        raise SourceError(f"{spec}: no such file or folder (and not a Hub id such as "
                          "'owner/name')")
    else:
        _check_hub(spec, params.get("revision"))
        loaded = _load(spec, spec, revision=params.get("revision"))
    if isinstance(loaded, datasets.DatasetDict | datasets.IterableDatasetDict):
        name = wanted or "train"
        if name not in loaded:
            raise SourceError(f"{spec}: no split {name!r}; the splits found are "
                              f"{', '.join(loaded)}; choose one with --split")
        return loaded[name], name
    own = str(loaded.split) if getattr(loaded, "split", None) else None
    if wanted and own and wanted != own:
        raise SourceError(f"{spec}: holds the single split {own!r}, not {wanted!r}; drop "
                          f"--split or give --split {own}")
    return loaded, wanted or own or "train"


def _load(spec: str, *args: str, **kwargs: str | None) -> Any:
    """``load_dataset(..., streaming=True)``: read in place, no copy into a cache."""
    from huggingface_hub.errors import HfHubHTTPError

    import datasets

    try:
        return datasets.load_dataset(*args, streaming=True, **kwargs)
    except (OSError, ValueError, datasets.exceptions.DatasetsError, HfHubHTTPError) as exc:
        raise SourceError(f"{spec}: datasets.load_dataset cannot open it ({type(exc).__name__}: "
                          f"{shown(str(exc), 200)})") from exc


def _check_hub(spec: str, revision: str | None) -> None:
    """Raise a clear error when ``spec`` cannot be read from the Hub (unreachable, unknown)."""
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    try:
        huggingface_hub.HfApi().dataset_info(spec, revision=revision, timeout=20)
    except hub_errors.RevisionNotFoundError as exc:
        raise SourceError(f"{spec}: the dataset has no revision {revision!r} on the Hub; give "
                          "a branch, tag or commit that exists") from exc
    except hub_errors.RepositoryNotFoundError as exc:
        raise SourceError(f"{spec}: no such dataset on the Hub (or it is private or gated: "
                          "log in with `huggingface-cli login`); " + _LOCAL_HOWTO) from exc
    except Exception as exc:  # any other failure to reach the server says the same
        raise SourceError(f"{spec}: the Hugging Face Hub is unreachable from this machine "
                          f"({type(exc).__name__}: {shown(str(exc), 160)}); "
                          + _LOCAL_HOWTO) from None


def _unwrap(feature: Any) -> Any:
    """The element feature of list-like features (``Sequence``, ``List``, ``[x]``)."""
    while isinstance(feature, list) or type(feature).__name__ in ("Sequence", "List",
                                                                    "LargeList"):
        feature = feature[0] if isinstance(feature, list) else feature.feature
    return feature


def _describe(feature: Any) -> str:
    """A short name of a feature type, for messages."""
    inner = _unwrap(feature)
    if inner is not feature:
        return f"list of {_describe(inner)}"
    if isinstance(feature, dict):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in feature.items()) + "}"
    name = type(feature).__name__
    if name == "ClassLabel":
        return f"ClassLabel({feature.num_classes} names)"
    if name == "Value":
        return f"Value({feature.dtype})"
    return name


def _keys(feature: Any) -> tuple[str, str] | None:
    """``(bbox key, category key)`` of a dict feature that has both, else None."""
    if not isinstance(feature, dict):
        return None
    bbox = next((k for k in BBOX_KEYS if k in feature), None)
    cat = next((k for k in CATEGORY_KEYS if k in feature), None)
    return (bbox, cat) if bbox and cat else None


class _Layout:
    """Where the images, boxes and class names are, from the dataset's features.

    Attributes:
        image: the image column; ``objects``: the objects column (None: top-level boxes,
            or no boxes when unlabeled); ``bbox``/``category``: their keys.
        names: ClassLabel names (empty: categories are strings or integer ids).
        int_ids: categories are integers without names (they go through the class map).
    """

    def __init__(self, features: Any, params: dict[str, Any], where: str, unlabeled: bool,
                 has_map: bool) -> None:
        self.where = where
        self.features = features
        self.image = self._image_column(params.get("image_column"))
        self.objects: str | None = None
        self.bbox = self.category = ""
        self.names: list[str] = []
        self.int_ids = False
        if unlabeled:
            self.columns = [self.image]
            return
        self._objects_column(params.get("objects_column"))
        self.columns = [self.image] + ([self.objects] if self.objects else
                                       [self.bbox, self.category])
        cat = (_unwrap(features[self.objects])[self.category] if self.objects
               else features[self.category])
        cat = _unwrap(cat)
        kind = type(cat).__name__
        if kind == "ClassLabel":
            self.names = list(cat.names)
        elif kind == "Value" and str(cat.dtype).startswith(("int", "uint")):
            if not has_map:
                raise SourceError(
                    f"{where}: categories in {self.objects or self.category!r} are integer ids "
                    "without class names (no ClassLabel feature); give --class-map FILE "
                    "mapping each id to a class ('0: fish'), or cast the column to a "
                    "ClassLabel with names (`dataset.cast_column(...)`)")
            self.int_ids = True
        elif not (kind == "Value" and str(cat.dtype) in ("string", "large_string")):
            raise SourceError(f"{where}: the category {self.category!r} is "
                              f"{_describe(cat)}; expected a ClassLabel, class names or "
                              "integer ids. " + self._found())

    def _found(self) -> str:
        cols = "; ".join(f"{k} ({_describe(v)})" for k, v in self.features.items())
        return f"Columns found: {cols}"

    def _image_column(self, given: str | None) -> str:
        images = [k for k, v in self.features.items() if type(v).__name__ == "Image"]
        if given:
            if given not in self.features or type(self.features[given]).__name__ != "Image":
                raise SourceError(f"{self.where}: --image-column {given!r} is not a column "
                                  f"with an Image feature. {self._found()}")
            return given
        if len(images) == 1:
            return images[0]
        what = "several image columns" if images else "no column with an Image feature"
        raise SourceError(f"{self.where}: {what}; name the image column with --image-column "
                          f"COL. {self._found()}")

    def _objects_column(self, given: str | None) -> None:
        hint = (f"; name the column of objects {{bbox, category}} with --objects-column COL, "
                f"set how boxes are written with --bbox-format ({', '.join(BBOX_FORMATS)}), or "
                "ingest the images alone with --unlabeled")
        if given:
            keys = _keys(_unwrap(self.features[given])) if given in self.features else None
            if keys is None:
                raise SourceError(f"{self.where}: --objects-column {given!r} is not a column of "
                                  f"objects with a bbox key ({'/'.join(BBOX_KEYS)}) and a "
                                  f"category key ({'/'.join(CATEGORY_KEYS)}){hint}. "
                                  + self._found())
            self.objects, (self.bbox, self.category) = given, keys
            return
        found = {k: keys for k, v in self.features.items() if (keys := _keys(_unwrap(v)))}
        if len(found) == 1:
            self.objects, (self.bbox, self.category) = next(iter(found.items()))
            return
        if not found and (top := _keys(dict(self.features))):
            self.bbox, self.category = top
            return
        what = (f"several columns of objects ({', '.join(found)})" if found else
                "no column of objects with a bbox and a category key")
        raise SourceError(f"{self.where}: {what}{hint}. {self._found()}")


#: A row's image: file, written now, (width, height) or None, probe of its bytes or None.
_Found = tuple[str, bool, tuple[int, int] | None, ImageInfo | None]


class _RowReader:
    """Turns batches of rows into records and boxes (see :meth:`add`)."""

    def __init__(self, batch: SourceBatch, layout: _Layout, mapping: dict[str, str],
                 bbox_format: str, unlabeled: bool, media: Path, where: str,
                 split: tuple[str | None, str], pool: ThreadPoolExecutor) -> None:
        self.batch, self.layout, self.mapping, self.pool = batch, layout, mapping, pool
        self.names = np.asarray(apply_class_map(layout.names, mapping) or [""], dtype=object)
        self.bbox_format, self.unlabeled, self.media = bbox_format, unlabeled, str(media)
        self.where, (self.split, self.hf_split) = where, split
        self.rows = 0
        self.pending: tuple[dict[str, list[Any]], int, list[Future[Any]]] | None = None
        self.pixels = bbox_format in ("coco", "voc") and not unlabeled
        self.dirs: set[str] = set()

    def add(self, rows: dict[str, list[Any]], limit: int | None) -> bool:
        """Start on a batch of rows (images hashed and written by the pool while the previous
        batch is finished and the next one read); False once ``limit`` rows were read."""
        n = len(rows[self.layout.image])
        n = n if limit is None else min(n, limit - self.rows)
        values = rows[self.layout.image][:n]
        step = max(1, -(-n // WORKERS))
        futures = [self.pool.submit(self._images, values[i:i + step]) for i in range(0, n, step)]
        self.flush()
        self.pending = (rows, self.rows, futures)
        self.rows += n
        return limit is None or self.rows < limit

    def flush(self) -> None:
        """Finish the batch started last: records, drops and boxes, in row order."""
        if self.pending is None:
            return
        rows, start, futures = self.pending
        self.pending = None
        lay, batch = self.layout, self.batch
        todo: list[tuple[int, int, list[Any], list[Any], tuple[int, int] | None]] = []
        for k, found in enumerate(found for future in futures for found in future.result()):
            row = start + k
            if isinstance(found, str):
                batch.drop("no-image", self._file(row), found)
                continue
            index = len(batch.records)
            batch.records.append(ImageRecord(
                Path(found[0]), f"{self.hf_split}/{row}", labeled=not self.unlabeled,
                split="pool" if self.unlabeled else self.split, created_media=found[1],
                info=found[3]))
            if self.unlabeled:
                continue
            if lay.objects is None:
                boxes, cats = rows[lay.bbox][k] or [], rows[lay.category][k] or []
            elif (objects := rows[lay.objects][k]) is None:
                batch.warn("no-objects", self._file(row), "the row has no objects; treated as "
                           "a negative (background) image", image=index)
                continue
            elif isinstance(objects, dict):  # Sequence({...}): a dict of lists
                boxes, cats = objects.get(lay.bbox) or [], objects.get(lay.category) or []
            else:  # List({...}): a list of dicts
                boxes = [o.get(lay.bbox) for o in objects]
                cats = [o.get(lay.category) for o in objects]
            if boxes or cats:
                todo.append((row, index, boxes, cats, found[2]))
        self._convert(todo)

    def _file(self, row: int) -> str:
        return f"{self.where} row {row}"

    def _images(self, values: list[Any]) -> list[_Found | str]:
        return [self._image(v) for v in values]

    def _image(self, value: Any) -> _Found | str:
        """``(file, written now, (width, height) or None, the probe of the bytes written or
        None)`` of a row's image, or why not."""
        data = value.get("bytes") if isinstance(value, dict) else None
        src = value.get("path") if isinstance(value, dict) else None
        if not data:
            if src and os.path.isfile(src):
                info = probe_file(Path(src)) if self.pixels else None
                size = (info.width, info.height) if info and not info.error else None
                return os.path.abspath(src), False, size, info
            return (f"the row has no image ({shown(src) if src else 'no bytes, no path'}); "
                    "fill the image column or drop the row")
        info = probe_bytes(data)
        ext = os.path.splitext(src)[1].lower() if src else ""
        ext = ext if ext in IMAGE_SUFFIXES else _EXT.get(info.mime_type, ".img")
        folder = os.path.join(self.media, info.sha256[:2])
        if folder not in self.dirs:
            os.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        target = os.path.join(folder, info.sha256 + ext)
        created = not os.path.exists(target)
        if created:  # written whole under another name first: never a partial file
            tmp = f"{target}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        return target, created, (info.width, info.height) if not info.error else None, info

    def _convert(self, todo: list[tuple[int, int, list[Any], list[Any],
                                         tuple[int, int] | None]]) -> None:
        """Check, convert and add the boxes of a batch of rows (numpy over the batch)."""
        image: list[int] = []
        labels: list[str] = []
        files: list[str] = []
        raw: list[np.ndarray] = []
        sizes: list[tuple[int, int]] = []
        for row, index, boxes, cats, size in todo:
            file = self._file(row)
            if size is None and self.pixels:
                continue  # unreadable image: ingest reports it; pixel boxes cannot be scaled
            try:
                arr = np.asarray(boxes, dtype=np.float64)
                if arr.shape != (len(cats), 4):
                    raise ValueError(f"{len(boxes)} boxes of 4 numbers and {len(cats)} "
                                     "categories expected")
                names = self._names(cats)
            except (TypeError, ValueError, IndexError) as exc:
                self.batch.error("bad-bbox", file, f"objects {shown(boxes)} / {shown(cats)}: "
                                 f"{exc}; give each box 4 numbers ({self.bbox_format}) and "
                                 "one known category", image=index)
                continue
            raw.append(arr)
            image.extend([index] * len(names))
            labels.extend(names)
            files.extend([file] * len(names))
            sizes.extend([size or (1, 1)] * len(names))
        if not raw:
            return
        b = np.concatenate(raw)
        wh_img = np.asarray(sizes, dtype=np.float64)
        scale = np.tile(wh_img, 2) if self.pixels else np.ones((1, 4))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if self.bbox_format == "coco":
                xyxyn = np.c_[b[:, :2], b[:, :2] + b[:, 2:]] / scale
                wh = b[:, 2:] / wh_img
            elif self.bbox_format == "yolo":
                xyxyn, wh = cxcywhn_to_xyxyn(b), b[:, 2:]
            else:  # voc (pixels) and albumentations (relative): corners
                xyxyn = b / scale
                wh = xyxyn[:, 2:] - xyxyn[:, :2]
        self.batch.boxes.extend_rows(image, labels, xyxyn.tolist(), files, [0] * len(image),
                                     wh=wh.tolist())

    def _names(self, cats: list[Any]) -> list[str]:
        """The (mapped) class names of one row's category values."""
        if self.layout.names:  # ClassLabel ids
            ids = np.asarray(cats)
            if ids.dtype.kind not in "iu" or ids.ndim != 1:
                raise ValueError(f"categories {shown(cats)} are not ClassLabel ids")
            if len(ids) and not (ids.min() >= 0 and ids.max() < len(self.layout.names)):
                raise IndexError(f"a category id is outside the ClassLabel's "
                                 f"0..{len(self.layout.names) - 1}")
            return self.names[ids].tolist()
        out = []
        for c in cats:
            if isinstance(c, bool) or not isinstance(c, str | int):
                raise ValueError(f"category {shown(c)} is not a class name or id")
            if isinstance(c, int) and not self.layout.int_ids:
                raise ValueError(f"category {c} is an id but the categories are names")
            out.append(self.mapping.get(str(c), str(c)))
        return out

