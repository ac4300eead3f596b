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

from workbench.core.boxes import CLIP_TOLERANCE, xywhn_to_xyxyn
from workbench.core.perf import paused_gc
from workbench.core.types import Predictions
from workbench.errors import InputReportError, SourceError, WorkbenchError
from workbench.media.records import Issue
from workbench.selection.api import image_scores, indexed_keys
from workbench.store import predictions, runs
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
    """

    path: Path
    run: str
    skip_bad: bool = False
    replace: bool = False


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
                bad("each line needs a string 'filepath'")
                continue
            fp = obj["filepath"]
            sid = by_path.get(fp) or by_path.get(str((path.parent / fp).resolve()))
            if sid is None:
                bad(f"no sample has filepath {fp!r}")
                continue
            if sid in seen:
                bad(f"filepath {fp!r} appears again (first on line {seen[sid]})")
                continue
            dets = obj.get("detections", [])
            if not isinstance(dets, list):
                bad("'detections' must be a list")
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
            for d in ok_rows:
                rows_index.append(n)
                boxes.append(d["box"])
                conf.append(d["confidence"])
                cls.append(class_index[d["label"]])
                has_probs.append("class_probs" in d)
                probs.append(d.get("class_probs"))
                line_of_box.append(lineno)
    if result.issues and not skip_bad:
        result.seconds = time.perf_counter() - started
        raise PredictionImportError(result)
    result.skipped_lines = len(bad_lines)
    with_probs = bool(has_probs) and all(has_probs)
    if has_probs and any(has_probs) and not with_probs:
        raise WorkbenchError("some detections carry class_probs and others do not; give them "
                             "for every detection or for none")
    preds = Predictions(
        xywhn_to_xyxyn(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)),
        np.asarray(conf, dtype=np.float64), np.asarray(cls, dtype=np.int64),
        np.asarray(rows_index, dtype=np.int64),
        np.asarray(probs, dtype=np.float64).reshape(len(probs), len(classes)) if with_probs
        else None)
    scores = image_scores(preds, len(sample_ids))
    written = predictions.write_predictions(ws, run, sample_ids, preds, classes, scores=scores,
                                            indexed=indexed_keys(scores))
    result.samples, result.boxes = written["samples"], written["boxes"]
    result.seconds = time.perf_counter() - started
    if existing is not None:
        runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.PREDICTIONS_IMPORT, run, {"path": str(path), "skip_bad": skip_bad},
                    {k: v for k, v in result.to_dict().items() if k != "issues"} |
                    {"field": written["field"], "scores_field": written["scores_field"]},
                    started_at)
    return result


def _check_detection(d: Any, class_index: dict[str, int], n_classes: int) -> str | None:
    if not isinstance(d, dict):
        return "not an object"
    label = d.get("label")
    if label not in class_index:
        return (f"unknown label {label!r}; the workspace's classes are "
                f"{list(class_index)}")
    box = d.get("box")
    if not (isinstance(box, list) and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)):
        return f"'box' must be [x_min, y_min, width, height] numbers, got {box!r}"
    x, y, w, h = (float(v) for v in box)
    t = CLIP_TOLERANCE
    if w <= 0 or h <= 0 or x < -t or y < -t or x + w > 1 + t or y + h > 1 + t:
        return f"box {box} is empty or outside the image (relative coordinates in [0, 1])"
    c = d.get("confidence")
    if not isinstance(c, int | float) or isinstance(c, bool) or not 0.0 <= c <= 1.0:
        return f"'confidence' must be a number in [0, 1], got {c!r}"
    if "class_probs" in d:
        p = d["class_probs"]
        if not (isinstance(p, list) and len(p) == n_classes
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)):
            return f"'class_probs' must be {n_classes} numbers in class-list order"
    return None
