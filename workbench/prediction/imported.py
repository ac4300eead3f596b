"""``workbench predictions import FILE.jsonl --run NAME``: predictions made elsewhere.

One JSON object per line: ``{"filepath": str, "detections": [{"label": str, "box": [x_min,
y_min, width, height] (relative), "confidence": float, "class_probs": [...] (optional, in
class-list order)}]}``. Every line is validated first; nothing is written unless all are valid
(or ``skip_bad`` drops the bad lines).

The file is streamed: a worker parses and checks chunks of lines into flat arrays
(:mod:`workbench.prediction.import_parse`: orjson, bulk checks, numpy geometry) while this module
looks the file paths up and keeps the arrays, which then go to the bulk writer.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.core.perf import paused_gc
from workbench.core.types import Predictions
from workbench.errors import InputReportError, SourceError, WorkbenchError
from workbench.media.records import Issue
from workbench.prediction.import_parse import ParsedChunk, chunk_reader
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import app_views, lock, predictions, runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace


@dataclass
class PredictionsImportConfig:
    """Options of ``workbench predictions import``.

    Attributes:
        path: the JSONL file (one ``{filepath, detections}`` per line).
        run: name of the prediction run to create.
        skip_bad: import the valid lines and report the rest (default: change nothing).
        replace: overwrite a run of the same name.
        display_conf: minimum confidence of the boxes copied to ``show_<run>``, the field the
            App shows.
    """

    path: Path
    run: str
    skip_bad: bool = False
    replace: bool = False
    display_conf: float = predictions.DISPLAY_CONF


@dataclass
class ImportResult:
    """Outcome of :func:`import_predictions`."""

    run: str
    lines: int = 0
    samples: int = 0
    boxes: int = 0
    skipped_lines: int = 0
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run": self.run, "lines": self.lines, "samples": self.samples,
                "boxes": self.boxes, "skipped_lines": self.skipped_lines,
                "errors": len(self.issues), "issues": [i.to_dict() for i in self.issues[:1000]],
                "seconds": round(self.seconds, 3)}


#: Images written per part while the worker parses on (and the most held in memory).
WRITE_IMAGES = 20_000


class PredictionImportError(InputReportError):
    """The file has invalid lines; nothing was written."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(f"{len(result.issues)} invalid line(s) in the predictions file; nothing "
                         "was written. Fix them or re-run with --skip-bad to import the rest",
                         result)


def import_predictions(ws: Workspace, path: str | Path, run: str,
                       **options: Any) -> ImportResult:
    """Keyword form of :func:`import_file`: ``options`` are the other config fields."""
    return import_file(ws, PredictionsImportConfig(Path(path), run, **options))


def import_file(ws: Workspace, config: PredictionsImportConfig) -> ImportResult:
    """Validate and write predictions from a JSONL file as prediction run ``config.run``.

    The file is read in chunks of lines; each chunk is parsed and checked into flat arrays
    (:mod:`workbench.prediction.import_parse`) by a worker while this thread looks the
    previous chunk's file paths up and writes the accepted lines every
    :data:`WRITE_IMAGES` images, so memory holds one part's arrays, never the file's objects.
    The score indexes are built once, at the end. A file with invalid lines (without
    ``skip_bad``) stops the writes at the first one and is rolled back whole by the
    operation journal.

    Raises:
        SourceError: no such file; PredictionImportError: invalid lines (without
            ``skip_bad``; nothing written); WorkbenchError: an existing run (without
            ``replace``), ``class_probs`` given for some detections only.
    """
    started = time.perf_counter()
    run, replace = config.run, config.replace
    path = Path(config.path).expanduser().resolve()
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    existing = runs.get_run(ws, run)
    if existing is not None and not replace:
        raise WorkbenchError(f"a run named {run!r} exists; choose another --run or --replace")
    with lock.hold(ws):  # its journal rolls the parts back if a later line is bad
        return _import(ws, config, path, existing, started)


def _import(ws: Workspace, config: PredictionsImportConfig, path: Path,
            existing: dict[str, Any] | None, started: float) -> ImportResult:
    """:func:`import_file` once the file and the run name are checked."""
    started_at = dt.datetime.now(dt.UTC)
    run, skip_bad = config.run, config.skip_bad
    classes = ws.classes
    written: dict[str, Any] = {}
    indexed: list[str] = []
    with paused_gc(), chunk_reader(path, classes) as chunks:
        by_path = predictions.ids_by_filepath(ws)  # while the worker parses the first chunks
        result = ImportResult(run=run)
        rows = _Rows(len(classes))
        seen: dict[Any, int] = {}
        for chunk in chunks:
            keep = skip_bad or not result.issues
            _take(chunk, path, by_path, seen, result, rows, keep=keep)
            if keep and len(rows.sample_ids) >= WRITE_IMAGES:  # the worker parses meanwhile
                written, indexed = _write(ws, run, *rows.take(), classes, config.display_conf,
                                          result)
    result.issues.sort(key=lambda issue: issue.line or 0)
    if result.issues and not skip_bad:  # what was written is rolled back (the journal)
        result.seconds = time.perf_counter() - started
        raise PredictionImportError(result)
    result.skipped_lines = len(result.issues)
    if rows.sample_ids or not written:
        written, indexed = _write(ws, run, *rows.take(), classes, config.display_conf, result)
    if written["scores_field"] and written["uncertainty_fields"]:
        predictions.index_scores(ws, written["scores_field"], indexed,
                                 list(written["uncertainty_fields"].values()))
    result.seconds = time.perf_counter() - started
    if existing is not None:
        runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.PREDICTIONS_IMPORT, run, {"path": str(path), "skip_bad": skip_bad},
                    {k: v for k, v in result.to_dict().items() if k != "issues"} |
                    {"field": written["field"], "scores_field": written["scores_field"]},
                    started_at)
    app_views.refresh_app(ws)
    return result


def _write(ws: Workspace, run: str, sample_ids: list[Any], preds: Predictions,
           classes: list[str], display_conf: float,
           result: ImportResult) -> tuple[dict[str, Any], list[str]]:
    """Write a part of the run: ``pred_<run>``, its scores and ``show_<run>``; count it in
    ``result``. The score indexes are made once, after the last part.

    Returns:
        :func:`~workbench.store.predictions.write_predictions`'s dict, and the score keys to
        index.
    """
    scores = image_scores(preds, len(sample_ids))
    written = predictions.write_predictions(ws, run, sample_ids, preds, classes, scores=scores,
                                            display_conf=display_conf, build_indexes=False)
    result.samples += written["samples"]
    result.boxes += written["boxes"]
    return written, indexed_keys(scores)


class _Rows:
    """The accepted lines' samples and boxes, a list of arrays per chunk."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.sample_ids: list[Any] = []
        self.parts: dict[str, list[npt.NDArray[Any]]] = {
            k: [] for k in ("xyxy", "confidence", "class_id", "image_index", "probs")}
        self.boxes = self.with_probs = 0

    def add(self, chunk: ParsedChunk, accepted: npt.NDArray[np.bool_], ids: list[Any]) -> None:
        """Keep the boxes of the ``accepted`` ``(L,)`` lines of ``chunk``; ``ids``: theirs."""
        box_keep = np.repeat(accepted, chunk.counts)
        image = np.cumsum(accepted) - 1 + len(self.sample_ids)
        self.parts["image_index"].append(np.repeat(image, chunk.counts)[box_keep])
        for key in ("xyxy", "confidence", "class_id"):
            self.parts[key].append(getattr(chunk, key)[box_keep])
        with_probs = box_keep & chunk.has_probs
        self.parts["probs"].append(chunk.probs[with_probs])
        self.boxes += int(box_keep.sum())
        self.with_probs += int(with_probs.sum())
        self.sample_ids.extend(ids)

    def take(self) -> tuple[list[Any], Predictions]:
        """The sample ids and their :class:`Predictions` (``image_index`` indexes the ids)
        kept since the last call; the box counts go on over every call.

        Raises:
            WorkbenchError: ``class_probs`` given for some boxes only (so far).
        """
        if 0 < self.with_probs < self.boxes:
            raise WorkbenchError("some detections carry class_probs and others do not; give "
                                 "them for every detection or for none")
        empty = {"xyxy": np.zeros((0, 4)), "confidence": np.zeros(0),
                 "class_id": np.zeros(0, np.int64), "image_index": np.zeros(0, np.int64),
                 "probs": np.zeros((0, self.n_classes))}
        cols: dict[str, Any] = {k: np.concatenate(v) if v else empty[k]
                                for k, v in self.parts.items()}
        probs = cols["probs"].reshape(-1, self.n_classes) if self.with_probs else None
        self.parts = {k: [] for k in cols}
        sample_ids, self.sample_ids = self.sample_ids, []
        return sample_ids, Predictions(cols["xyxy"], cols["confidence"], cols["class_id"],
                                            cols["image_index"], probs)


def _take(chunk: ParsedChunk, path: Path, by_path: dict[str, Any], seen: dict[Any, int],
          result: ImportResult, rows: _Rows, keep: bool) -> None:
    """Look a parsed chunk's lines up; report the bad ones, add the rest to ``rows``.

    Per line, in the order the problems are reported: JSON and ``filepath`` (parsed), the
    sample lookup, a repeated file path, then the detections and their geometry (parsed; a line
    whose only problem is its geometry still counts as seen). ``keep`` False: only check.
    """
    file = str(path)
    accepted = np.zeros(len(chunk.lines), dtype=bool)
    ids = []
    for j, (lineno, fp) in enumerate(zip(chunk.lines, chunk.filepaths, strict=True)):
        problem = chunk.before.get(j)
        if problem is None:
            sid = by_path.get(fp) or by_path.get(str((path.parent / fp).resolve()))
            if sid is None:
                problem = f"no sample has filepath {fp!r}"
            elif sid in seen:
                problem = f"filepath {fp!r} appears again (first on line {seen[sid]})"
            else:
                after = chunk.after.get(j)
                if after is None or after[1]:
                    seen[sid] = lineno
                if after is None:
                    accepted[j] = True
                    ids.append(sid)
                    continue
                problem = after[0]
        result.issues.append(Issue("error", "bad-prediction", file, problem, lineno))
    result.lines += len(chunk.lines)
    if keep:
        rows.add(chunk, accepted, ids)
