"""`predictions import` in chunks: the streamed parse and the bulk checks give what one pass over
the whole file gives (same stored boxes, same issues, same messages)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.selection.test_select import _det, _line, _pool, _write
from workbench.prediction import import_parse, imported
from workbench.prediction.import_parse import check_detection, chunk_reader, parse_chunk
from workbench.prediction.imported import PredictionImportError, import_predictions

CLASSES = ["fish", "penguin", "shark"]
PROBS = [0.7, 0.2, 0.1]


def _raw(*objs: Any) -> list[bytes]:
    return [(o if isinstance(o, str) else json.dumps(o)).encode() + b"\n" for o in objs]


def _only(dets: list[Any]) -> str | None:
    """The problem ``parse_chunk`` reports for one line holding ``dets``."""
    chunk = parse_chunk(_raw({"filepath": "a.jpg", "detections": dets}), 1, CLASSES)
    return chunk.after[0][0] if chunk.after else None


@pytest.mark.parametrize("det", [
    {"label": "fish", "box": [0.1, 0.1, True, 0.2], "confidence": 0.5},  # a bool is no number
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": True},
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5, "class_probs": [1, 0, False]},
    {"label": "fish", "box": [0.1, 0.1, "0.2", 0.2], "confidence": 0.5},
    {"label": "fish", "box": {"a": 1, "b": 2, "c": 3, "d": 4}, "confidence": 0.5},
    {"label": "fish", "box": "abcd", "confidence": 0.5},
    {"label": "fish", "box": [[0.1], [0.1], [0.2], [0.2]], "confidence": 0.5},
    {"label": "fish", "box": [0.1, 0.1, 0.2], "confidence": 0.5},
    {"label": ["fish"], "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5},
    {"label": "whale", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5},
    {"box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5},
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 1.5},
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": float("nan")},
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5, "class_probs": None},
    {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2], "confidence": 0.5, "class_probs": [1, 0]},
    {"label": "fish", "box": [0.1, 0.1, 10**400, 0.2], "confidence": 0.5},
    "not an object",
])
def test_bulk_check_reports_what_the_reference_rules_report(det: Any) -> None:
    good = _det("fish", PROBS)
    message = _only([good, det])
    expected = check_detection(det, {c: i for i, c in enumerate(CLASSES)}, len(CLASSES))
    assert expected is not None and message == f"detections[1]: {expected}"


def test_valid_values_the_bulk_path_must_not_refuse() -> None:
    """Integers, 0 and 1, a huge integer class score, a box at the edge: all valid."""
    dets = [{"label": "fish", "box": [0, 0, 1, 1], "confidence": 1, "class_probs": [1, 0, 0]},
            {"label": "shark", "box": [0.5, 0.5, 0.25, 0.25], "confidence": 0,
             "class_probs": [0.0, 2**70, 1e300]}]
    chunk = parse_chunk(_raw({"filepath": "a.jpg", "detections": dets}), 7, CLASSES)
    assert not chunk.before and not chunk.after and chunk.lines == [7]
    assert chunk.counts.tolist() == [2] and chunk.class_id.tolist() == [0, 2]
    assert chunk.confidence.tolist() == [1.0, 0.0]
    assert chunk.probs[1].tolist() == [0.0, float(2**70), 1e300]
    assert chunk.xyxy.tolist() == [[0, 0, 1, 1], [0.5, 0.5, 0.75, 0.75]]


def test_messages_show_values_as_written_and_json_words_parse_errors() -> None:
    """orjson reads 2**64 as a float; the message shows the integer, as json read it."""
    lines = _raw({"filepath": 18446744073709551616},
                 {"filepath": "b.jpg", "detections": [
                     {"label": "fish", "box": [0.5, 0.1, 18446744073709551616, 0.1],
                      "confidence": 0.5}]},
                 "{oops", '{"filepath": "c.jpg", "detections": [{"label": "fish", '
                 '"box": [NaN, 0, 0.1, 0.1], "confidence": 0.5}]}', "", "[1, 2]")
    chunk = parse_chunk(lines, 1, CLASSES)
    assert chunk.lines == [1, 2, 3, 4, 6]
    assert chunk.before[0] == "each line needs a string 'filepath', got 18446744073709551616"
    assert chunk.after[1][0].startswith(
        "detections[0]: 'box' [0.5, 0.1, 18446744073709551616, 0.1]") and chunk.after[1][1]
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads("{oops")
    assert chunk.before[2] == f"not valid JSON: {info.value}"
    assert "not a finite number" in chunk.after[3][0]
    assert chunk.before[4] == "each line needs a string 'filepath', got [1, 2]"
    assert chunk.counts.tolist() == [0] * 5


def test_class_probs_on_some_boxes_only() -> None:
    dets = [_det("fish", PROBS), {"label": "fish", "box": [0.1, 0.1, 0.2, 0.2],
                                  "confidence": 0.5}]
    chunk = parse_chunk(_raw({"filepath": "a.jpg", "detections": dets}), 1, CLASSES)
    assert chunk.has_probs.tolist() == [True, False]
    assert chunk.probs[0].tolist() == PROBS and np.isnan(chunk.probs[1]).all()


def test_reader_stops_its_worker_when_left_early(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"".join(_raw(*({"filepath": f"{i}.jpg", "detections": [
        _det("fish", PROBS)]} for i in range(2000)))))
    before = threading.active_count()
    with chunk_reader(path, CLASSES) as chunks:
        first = next(iter(chunks))
    assert first.lines[0] == 1
    assert threading.active_count() == before


def _stored(ws: Any, run: str) -> dict[str, Any]:
    """Every sample's ``pred_<run>``, ``scores_<run>`` and ``show_<run>`` without ids."""
    out = {}
    for doc in ws.samples.find({}, {"filepath": 1, f"pred_{run}": 1, f"scores_{run}": 1,
                                    f"show_{run}": 1}):
        for key in (f"pred_{run}", f"show_{run}"):
            for d in (doc.get(key) or {}).get("detections", []):
                d.pop("_id", None)
        out[doc["filepath"]] = {k.split("_", 1)[0]: v for k, v in doc.items()
                                if k not in ("_id", "filepath")}
    return out


def test_chunked_import_equals_one_pass(workspace, tmp_path: Path,  # type: ignore[no-untyped-def]
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fps = _pool(workspace, tmp_path, n=9)
    rng = np.random.default_rng(0)
    lines = []
    for k, fp in enumerate(fps[:8]):
        dets = [_det(str(rng.choice(["fish", "shark", "penguin"])),
                     np.round(rng.dirichlet(np.ones(3)), 4).tolist(),
                     conf=round(float(rng.uniform(0.05, 0.95)), 3),
                     box=np.round(rng.uniform(0.05, 0.4, 4), 3).tolist())
                 for _ in range(k % 4)]  # 0-3 boxes, some images without any
        lines.append(_line(fp, dets))
    lines.insert(3, "")  # a blank line keeps the numbering
    lines.insert(5, _line("/nowhere.jpg", []))
    lines.insert(7, _line(fps[1], []))  # again
    lines.insert(9, _line(fps[8], [_det("fish", PROBS, box=[0.9, 0.2, 0.5, 0.2])]))
    path = _write(tmp_path, lines)

    def run_both(name: str) -> tuple[Any, Any]:
        with pytest.raises(PredictionImportError) as info:
            import_predictions(workspace, path, name)
        # parts written before the first bad line are rolled back with the rest
        assert workspace.samples.count_documents({f"pred_{name}": {"$exists": True}}) == 0
        return info.value.result, import_predictions(workspace, path, name, skip_bad=True)

    bad_one, ok_one = run_both("one")
    monkeypatch.setattr(import_parse, "CHUNK_BYTES", 1)  # one line per chunk
    monkeypatch.setattr(imported, "WRITE_IMAGES", 2)  # written in parts of 2 images
    bad_many, ok_many = run_both("many")
    assert [(i.line, i.message) for i in bad_many.issues] == \
        [(i.line, i.message) for i in bad_one.issues]
    assert [i.line for i in bad_one.issues] == [6, 8, 10]
    assert "no sample has filepath" in bad_one.issues[0].message
    assert "appears again (first on line 2)" in bad_one.issues[1].message
    assert "outside the image" in bad_one.issues[2].message
    assert (ok_many.samples, ok_many.boxes, ok_many.skipped_lines, ok_many.lines) == \
        (ok_one.samples, ok_one.boxes, ok_one.skipped_lines, ok_one.lines) == (8, 12, 3, 11)
    assert _stored(workspace, "many") == _stored(workspace, "one")
    indexes = str(workspace.samples.index_information())
    assert "unc_many_entropy" in indexes and "wb_scores_many_entropy" in indexes
