"""``workbench predictions import FILE.jsonl --run NAME``: predictions made elsewhere.

One JSON object per line: ``{"filepath": str, "detections": [{"label": str, "box": [x_min,
y_min, width, height] (relative), "confidence": float, "class_probs": [...] (optional, in
class-list order)}]}``. Every line is validated first; nothing is written unless all are valid
(or ``skip_bad`` drops the bad lines).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.core.boxes import BOX_CLIPPED, BOX_OK, check_geometry, xywhn_to_xyxyn
from workbench.core.perf import paused_gc
from workbench.core.types import Predictions
from workbench.errors import InputReportError, SourceError, WorkbenchError
from workbench.media.records import Issue, geometry_message, shown
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import app_views, predictions, runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

MAX_LINE_BYTES = 16 * 1024**2


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

    Raises:
        SourceError: no such file; PredictionImportError: invalid lines (without
            ``skip_bad``; nothing written); WorkbenchError: an existing run (without
            ``replace``), ``class_probs`` given for some detections only.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    run, skip_bad, replace = config.run, config.skip_bad, config.replace
    path = Path(config.path).expanduser().resolve()
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    existing = runs.get_run(ws, run)
    if existing is not None and not replace:
        raise WorkbenchError(f"a run named {run!r} exists; choose another --run or --replace")
    classes = ws.classes
    class_index = {c: i for i, c in enumerate(classes)}
    by_path = predictions.ids_by_filepath(ws)
    result = ImportResult(run=run)
    sample_ids: list[Any] = []
    rows_index: list[int] = []
    boxes: list[Any] = []
    conf: list[Any] = []
    cls: list[int] = []
    probs: list[Any] = []
    has_probs: list[bool] = []
    line_of_box: list[int] = []
    det_of_box: list[int] = []
    seen: dict[Any, int] = {}
    bad_lines: set[int] = set()
    with paused_gc(), path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            result.lines += 1

            def bad(message: str, lineno: int = lineno) -> None:
                result.issues.append(Issue("error", "bad-prediction", str(path), message, lineno))
                bad_lines.add(lineno)

            if len(raw) > MAX_LINE_BYTES:
                bad(f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                bad(f"not valid JSON: {exc}")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("filepath"), str):
                got = obj.get("filepath") if isinstance(obj, dict) else obj
                bad(f"each line needs a string 'filepath', got {shown(got)}")
                continue
            fp = obj["filepath"]
            if "\x00" in fp:
                bad(f"'filepath' {shown(fp)} contains a NUL character")
                continue
            sid = by_path.get(fp) or by_path.get(str((path.parent / fp).resolve()))
            if sid is None:
                bad(f"no sample has filepath {fp!r}")
                continue
            if sid in seen:
                bad(f"filepath {fp!r} appears again (first on line {seen[sid]})")
                continue
            dets = obj.get("detections", [])
            if not isinstance(dets, list):
                bad(f"'detections' must be a list, got {shown(dets)}")
                continue
            ok_rows = []
            for k, d in enumerate(dets):
                problem = _check_detection(d, class_index, len(classes))
                if problem:
                    bad(f"detections[{k}]: {problem}")
                    break
                ok_rows.append(d)
            if lineno in bad_lines:
                continue
            seen[sid] = lineno
            n = len(sample_ids)
            sample_ids.append(sid)
            for k, d in enumerate(ok_rows):
                det_of_box.append(k)
                rows_index.append(n)
                boxes.append(d["box"])
                conf.append(d["confidence"])
                cls.append(class_index[d["label"]])
                has_probs.append("class_probs" in d)
                probs.append(d.get("class_probs"))
                line_of_box.append(lineno)
    geo, keep_sample = _check_geometry(path, boxes, line_of_box, det_of_box, rows_index,
                                       len(sample_ids), result, bad_lines)
    if result.issues and not skip_bad:
        result.seconds = time.perf_counter() - started
        raise PredictionImportError(result)
    result.skipped_lines = len(bad_lines)
    keep_box = keep_sample[np.asarray(rows_index, dtype=np.int64)]
    has_probs = [h for h, ok in zip(has_probs, keep_box.tolist(), strict=True) if ok]
    with_probs = bool(has_probs) and all(has_probs)
    if has_probs and any(has_probs) and not with_probs:
        raise WorkbenchError("some detections carry class_probs and others do not; give them "
                             "for every detection or for none")
    new_index = np.cumsum(keep_sample) - 1
    sample_ids = [s for s, ok in zip(sample_ids, keep_sample.tolist(), strict=True) if ok]
    preds = Predictions(
        geo.boxes[keep_box],
        np.asarray(conf, dtype=np.float64)[keep_box], np.asarray(cls, dtype=np.int64)[keep_box],
        new_index[np.asarray(rows_index, dtype=np.int64)][keep_box],
        np.asarray([q for q, ok in zip(probs, keep_box.tolist(), strict=True) if ok],
                   dtype=np.float64).reshape(-1, len(classes)) if with_probs else None)
    scores = image_scores(preds, len(sample_ids))
    written = predictions.write_predictions(ws, run, sample_ids, preds, classes, scores=scores,
                                            indexed=indexed_keys(scores))
    result.samples, result.boxes = written["samples"], written["boxes"]
    predictions.write_display(ws, run, sample_ids, config.display_conf)
    result.seconds = time.perf_counter() - started
    if existing is not None:
        runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.PREDICTIONS_IMPORT, run, {"path": str(path), "skip_bad": skip_bad},
                    {k: v for k, v in result.to_dict().items() if k != "issues"} |
                    {"field": written["field"], "scores_field": written["scores_field"]},
                    started_at)
    app_views.refresh_app(ws)
    return result


def _number(v: Any) -> bool:
    """A JSON number that converts to a float (not a bool, not an integer beyond 1e308)."""
    return isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)
                                    and abs(v) <= 10**308)


def _check_detection(d: Any, class_index: dict[str, int], n_classes: int) -> str | None:
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


def _check_geometry(path: Path, boxes: list[Any], line_of_box: list[int], det_of_box: list[int],
                    rows_index: list[int], n_samples: int, result: ImportResult,
                    bad_lines: set[int]) -> tuple[Any, npt.NDArray[np.bool_]]:
    """The one geometry rule over every box at once; lines with a bad box are reported.

    Boxes slightly outside are clipped (as on ingest); empty, negative, non-finite and
    outside boxes are errors naming the line, the detection and the box as written.

    Returns:
        The :class:`~workbench.core.boxes.GeometryCheck` of the ``(N, 4)`` boxes and an
        ``(n_samples,)`` mask of the samples (lines) left valid.
    """
    xywhn = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    geo = check_geometry(xywhn_to_xyxyn(xywhn), xywhn[:, 2:])
    keep_sample = np.ones(n_samples, dtype=bool)
    for i in np.flatnonzero((geo.verdict != BOX_OK) & (geo.verdict != BOX_CLIPPED)).tolist():
        lineno = line_of_box[i]
        keep_sample[rows_index[i]] = False
        if lineno in bad_lines:
            continue
        bad_lines.add(lineno)
        written = ", ".join(repr(v) for v in boxes[i])
        message = geometry_message(int(geo.verdict[i]), geo.boxes[i], xywhn[i, 2:])
        result.issues.append(Issue(
            "error", "bad-prediction", str(path),
            f"detections[{det_of_box[i]}]: 'box' [{written}] (x_min, y_min, width, height): "
            f"{message.replace('; left out', '; give it a width and height')}", lineno))
    result.issues.sort(key=lambda issue: issue.line or 0)
    return geo, keep_sample
