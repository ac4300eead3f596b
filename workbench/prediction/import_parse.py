"""Parse and check ``predictions import`` JSONL, one chunk of lines at a time, into flat arrays.

Everything here is pure (numpy, orjson, the core box rule), so a chunk can be parsed in another
process or thread while the caller looks the lines' file paths up in the store.

Fast path: each line is parsed with orjson (``json`` for what orjson reads differently: NaN and
Infinity, numbers beyond 64 bits, lone surrogates, a BOM, and to word every "not valid JSON"
message), then a chunk's detections are checked in bulk: one pass of type sets over the flat
lists of labels, boxes, confidences and class vectors, numpy for ranges and the box geometry. A
chunk the bulk check cannot vouch for is checked detection by detection with
:func:`check_detection` (the reference rules, which word every message); the result is the same
either way.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from workbench.core.ahead import ahead
from workbench.core.boxes import BOX_CLIPPED, BOX_OK, check_geometry, xywhn_to_xyxyn
from workbench.media.records import geometry_message, shown

MAX_LINE_BYTES = 16 * 1024**2
_MISSING = object()


@dataclass
class ParsedChunk:
    """One chunk of lines, parsed and checked: everything but the sample lookup.

    Attributes:
        lines: ``L`` line numbers (1-based) of the chunk's non-blank lines.
        filepaths: ``L`` file paths as written (``""`` where ``before`` has the line).
        before: line ``j`` -> its problem found before the sample lookup (length, JSON,
            ``filepath``).
        after: line ``j`` -> ``(problem, is_geometry)`` found after the lookup (``detections``
            not a list, a bad detection; or a box that breaks the geometry rule, in which case
            the line still counts as seen for duplicates).
        counts: ``(L,)`` boxes of each line in the arrays (0 for a line with a problem).
        xyxy: ``(M, 4)`` relative corners, clipped to the image.
        confidence: ``(M,)`` float64.
        class_id: ``(M,)`` int64 indexes into the class list.
        probs: ``(M, C)`` float64 class vectors; NaN rows for boxes given without one.
        has_probs: ``(M,)`` bool, the box was given ``class_probs``.
    """

    lines: list[int] = field(default_factory=list)
    filepaths: list[str] = field(default_factory=list)
    before: dict[int, str] = field(default_factory=dict)
    after: dict[int, tuple[str, bool]] = field(default_factory=dict)
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    xyxy: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    confidence: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    class_id: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    probs: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    has_probs: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))


def parse_chunk(raw_lines: list[bytes], first_line: int, classes: list[str],
                plain_json: bool = False) -> ParsedChunk:
    """Parse and check consecutive raw lines of the file.

    A chunk with a bad line is parsed again with ``plain_json``: orjson reads an integer
    beyond 64 bits as a float where :mod:`json` keeps the int (the value is the same float in
    the end, but a message shows the value as written).

    Args:
        raw_lines: the lines as read in binary mode (with their ``\\n``).
        first_line: the 1-based line number of ``raw_lines[0]``.
        classes: the workspace's class list (labels and the length of ``class_probs``).
        plain_json: parse with :mod:`json` only.

    Returns:
        The chunk's :class:`ParsedChunk`.
    """
    out = ParsedChunk()
    class_index = {c: i for i, c in enumerate(classes)}
    det_lists: list[list[Any]] = []  # the detections of the lines without a problem so far
    det_lines: list[int] = []  # their j
    for lineno, raw in enumerate(raw_lines, start=first_line):
        if not raw.strip():
            continue
        j = len(out.lines)
        out.lines.append(lineno)
        out.filepaths.append("")
        obj, problem = _load(raw, plain_json)
        if problem is None:
            fp = obj.get("filepath") if isinstance(obj, dict) else None
            if not isinstance(fp, str):
                problem = ("each line needs a string 'filepath', got "
                           f"{shown(fp if isinstance(obj, dict) else obj)}")
            elif "\x00" in fp:
                problem = f"'filepath' {shown(fp)} contains a NUL character"
        if problem is not None:
            out.before[j] = problem
            continue
        out.filepaths[j] = str(fp)
        dets = obj.get("detections", [])
        if not isinstance(dets, list):
            out.after[j] = (f"'detections' must be a list, got {shown(dets)}", False)
            continue
        det_lists.append(dets)
        det_lines.append(j)
    flat = list(chain.from_iterable(det_lists))
    columns = _bulk_columns(flat, class_index, len(classes))
    if columns is None:  # something the bulk check cannot vouch for: the reference rules
        good_lists, good_lines = [], []
        for j, dets in zip(det_lines, det_lists, strict=True):
            for k, d in enumerate(dets):
                problem = check_detection(d, class_index, len(classes))
                if problem:
                    out.after[j] = (f"detections[{k}]: {problem}", False)
                    break
            else:
                good_lists.append(dets)
                good_lines.append(j)
        det_lists, det_lines = good_lists, good_lines
        flat = list(chain.from_iterable(det_lists))
        columns = _columns(flat, class_index, len(classes))
    boxes, xywhn, conf, cls, probs, has = columns
    per_line = np.fromiter(map(len, det_lists), dtype=np.int64, count=len(det_lists))
    line_of_box = np.repeat(np.asarray(det_lines, dtype=np.int64), per_line)
    geo = check_geometry(xywhn_to_xyxyn(xywhn), xywhn[:, 2:])
    keep = (geo.verdict == BOX_OK) | (geo.verdict == BOX_CLIPPED)
    if not keep.all():
        starts = np.concatenate([[0], np.cumsum(per_line)[:-1]]).astype(np.int64)
        start_of = dict(zip(det_lines, starts.tolist(), strict=True))
        for i in np.flatnonzero(~keep).tolist():
            j = int(line_of_box[i])
            if j in out.after:
                continue
            written = ", ".join(repr(v) for v in boxes[i])
            message = geometry_message(int(geo.verdict[i]), geo.boxes[i], xywhn[i, 2:])
            out.after[j] = (f"detections[{i - start_of[j]}]: 'box' [{written}] (x_min, y_min, "
                            f"width, height): "
                            f"{message.replace('; left out', '; give it a width and height')}",
                            True)
        keep = ~np.isin(line_of_box, np.fromiter(out.after, np.int64, len(out.after)))
    if (out.before or out.after) and not plain_json:
        return parse_chunk(raw_lines, first_line, classes, plain_json=True)
    out.counts = np.bincount(line_of_box[keep], minlength=len(out.lines)).astype(np.int64)
    out.xyxy, out.confidence, out.class_id = geo.boxes[keep], conf[keep], cls[keep]
    out.probs, out.has_probs = probs[keep], has[keep]
    return out


def _load(raw: bytes, plain_json: bool) -> tuple[Any, str | None]:
    """One line's JSON value, or the "not valid JSON" problem as :mod:`json` words it."""
    if len(raw) > MAX_LINE_BYTES:
        return None, f"line longer than {MAX_LINE_BYTES} bytes"
    if not plain_json:
        try:
            return orjson.loads(raw), None
        except orjson.JSONDecodeError:
            pass  # NaN, a BOM, a lone surrogate ... json decides, and words the message
    try:
        return json.loads(raw), None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON: {exc}"


Columns = tuple[list[Any], npt.NDArray[np.float64], npt.NDArray[np.float64],
                npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]


def _bulk_columns(flat: list[Any], class_index: dict[str, int],
                  n_classes: int) -> Columns | None:
    """:func:`_columns`, after checking in bulk that every detection passes the rules; None:
    some detection may not (the caller checks them one by one).

    Each test is one pass over a flat list or one numpy operation. A box or class vector need
    not be tested for being a list: flattening anything else JSON makes either raises (a
    number, null) or yields strings (a string, an object's keys), which :func:`_floats` refuses.
    """
    if not flat:
        return _columns(flat, class_index, n_classes)
    if set(map(type, flat)) != {dict}:
        return None
    try:
        cls: list[Any] = list(map(class_index.get, map(itemgetter("label"), flat)))
        boxes = list(map(itemgetter("box"), flat))
        flat_boxes = list(chain.from_iterable(boxes))
        conf = list(map(itemgetter("confidence"), flat))
        try:
            given = list(map(itemgetter("class_probs"), flat))
            has: npt.NDArray[np.bool_] = np.ones(len(flat), dtype=bool)
        except KeyError:
            given = [d["class_probs"] for d in flat if "class_probs" in d]
            has = np.asarray(["class_probs" in d for d in flat], dtype=bool)
        flat_probs = list(chain.from_iterable(given))
    except (KeyError, TypeError):  # a missing key, an unhashable label, a box not a list
        return None
    if None in cls or set(map(len, boxes)) != {4}:
        return None
    if given and set(map(len, given)) != {n_classes}:
        return None
    xywhn, c, probs = _floats(flat_boxes), _floats(conf), _floats(flat_probs)
    if xywhn is None or c is None or (given and probs is None):
        return None
    if not ((c >= 0.0) & (c <= 1.0)).all():
        return None
    return _arrays(boxes, xywhn, c, cls, probs, has, n_classes)


def _floats(values: list[Any]) -> npt.NDArray[np.float64] | None:
    """``values`` as a float array if every one passes :func:`_number`; else None.

    ``np.array`` without a dtype makes float64 (or int64) only from numbers and bools, object
    arrays from integers beyond 64 bits, and refuses nested lists of another shape; a bool
    turns into 0 or 1, so only the values equal to those are looked at one by one.
    """
    try:
        a = np.array(values)
    except (ValueError, OverflowError):
        return None
    if a.ndim != 1 or a.dtype not in (np.float64, np.int64):
        return None
    if any(type(values[i]) is bool for i in np.flatnonzero((a == 0) | (a == 1)).tolist()):
        return None
    return a.astype(np.float64, copy=False)


def _columns(flat: list[Any], class_index: dict[str, int], n_classes: int) -> Columns:
    """The arrays of detections known to pass the rules (see :func:`_arrays`)."""
    boxes = [d["box"] for d in flat]
    given = [d["class_probs"] for d in flat if "class_probs" in d]
    probs = np.asarray(list(chain.from_iterable(given)), dtype=np.float64)
    return _arrays(boxes, np.asarray(list(chain.from_iterable(boxes)), dtype=np.float64),
                   np.asarray([d["confidence"] for d in flat], dtype=np.float64),
                   [class_index[d["label"]] for d in flat], probs,
                   np.asarray(["class_probs" in d for d in flat], dtype=bool), n_classes)


def _arrays(boxes: list[Any], flat_boxes: npt.NDArray[np.float64],
            conf: npt.NDArray[np.float64], cls: list[int], flat_probs: Any,
            has: npt.NDArray[np.bool_], n_classes: int) -> Columns:
    """``(boxes as written, (M, 4) xywhn, (M,) confidence, (M,) class id, (M, C) class vectors
    (NaN rows where not given), (M,) given)`` from flat arrays."""
    if has.all():
        probs = np.asarray(flat_probs, dtype=np.float64).reshape(len(boxes), n_classes)
    else:
        probs = np.full((len(boxes), n_classes), np.nan)
        if has.any():
            probs[has] = np.asarray(flat_probs, dtype=np.float64).reshape(-1, n_classes)
    return boxes, flat_boxes.reshape(-1, 4), conf, np.asarray(cls, dtype=np.int64), probs, has


def _number(v: Any) -> bool:
    """A JSON number that converts to a float (not a bool, not an integer beyond 1e308)."""
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)
                                    and abs(v) <= 10**308)


def check_detection(d: Any, class_index: dict[str, int], n_classes: int) -> str | None:
    """The reference rules for one detection: its first problem, worded, or None."""
    if not isinstance(d, dict):
        return f"must be an object, got {shown(d)}"
    label = d.get("label")
    if not isinstance(label, str) or label not in class_index:
        return (f"unknown label {label!r}; the workspace's classes are "
                f"{list(class_index)}")
    box = d.get("box")
    if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
        return f"'box' must be [x_min, y_min, width, height] numbers, got {box!r}"
    c = d.get("confidence")
    if not isinstance(c, int | float) or isinstance(c, bool) or not 0.0 <= c <= 1.0:
        return f"'confidence' must be a number in [0, 1], got {c!r}"
    if "class_probs" in d:
        p = d["class_probs"]
        if not (isinstance(p, list) and len(p) == n_classes and all(_number(v) for v in p)):
            return (f"'class_probs' must be {n_classes} numbers in class-list order, got "
                    f"{shown(p)}")
    return None


#: Bytes of lines per chunk handed to the worker.
CHUNK_BYTES = 2 * 2**20


def raw_chunks(path: Path) -> Iterator[tuple[list[bytes], int]]:
    """The file's lines in chunks of about :data:`CHUNK_BYTES`: ``(raw lines, first line
    number)``; a line is never split."""
    with path.open("rb") as fh:
        lineno = 1
        while lines := fh.readlines(CHUNK_BYTES):
            yield lines, lineno
            lineno += len(lines)


#: Parsed chunks the worker may hold ahead of the consumer (memory stays bounded).
QUEUE_CHUNKS = 4


def chunk_reader(path: Path, classes: list[str]
                 ) -> contextlib.AbstractContextManager[Iterator[ParsedChunk]]:
    """The file's :class:`ParsedChunk` s in order, parsed by a worker thread ahead of the caller.

    The worker reads and parses while the caller waits on the store (the sample lookup) and
    works on the previous chunk; a bounded queue keeps it at most :data:`QUEUE_CHUNKS` ahead.
    Leaving the ``with`` block early stops the worker.
    """
    return ahead((parse_chunk(lines, first, classes) for lines, first in raw_chunks(path)),
                 QUEUE_CHUNKS, "predictions-import-parse")
