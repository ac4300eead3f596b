"""`predictions import` applies the one geometry rule; messages name line, detection, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.selection.test_select import _det, _line, _pool, _write
from workbench.prediction.imported import PredictionImportError, import_predictions

NAN, INF = float("nan"), float("inf")
BAD = {  # box as written [x_min, y_min, width, height] -> text the message must hold
    "negative-width": ([0.5, 0.2, -0.1, 0.2], "negative width or height (width -0.1"),
    "negative-height": ([0.2, 0.5, 0.2, -0.1], "height -0.1"),
    "nan": ([NAN, 0.2, 0.1, 0.1], "not a finite number"),
    "inf": ([0.2, 0.2, INF, 0.1], "not a finite number"),
    "far-outside": ([0.9, 0.2, 0.5, 0.2], "outside the image"),
    "zero-area": ([0.2, 0.2, 0.0, 0.1], "zero width or height"),
}


def test_geometry_verdicts(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fps = _pool(workspace, tmp_path, n=len(BAD) + 2)
    probs = [0.8, 0.1, 0.1]
    lines = [_line(fps[0], [_det("fish", probs)]),
             _line(fps[1], [_det("fish", probs, box=[-0.005, 0.1, 0.2, 0.2])])]
    for k, (box, _) in enumerate(BAD.values()):
        lines.append(_line(fps[k + 2], [_det("fish", probs), _det("fish", probs, box=box)]))
    path = _write(tmp_path, lines)
    with pytest.raises(PredictionImportError) as info:
        import_predictions(workspace, path, "geo")
    issues = info.value.result.issues
    assert [i.line for i in issues] == list(range(3, 3 + len(BAD)))
    for issue, (box, text) in zip(issues, BAD.values(), strict=True):
        assert issue.file == str(path.resolve())
        assert issue.message.startswith("detections[1]: 'box' [")
        assert repr(box[2]) in issue.message and text in issue.message, issue.message
    ok = import_predictions(workspace, path, "geo", skip_bad=True)
    assert (ok.samples, ok.boxes, ok.skipped_lines) == (2, 2, len(BAD))
    xs = sorted(d.bounding_box[0] for s in workspace.dataset for d in
                (s["pred_geo"].detections if s["pred_geo"] else []))
    assert xs == [0.0, 0.1]  # the slightly-outside box is clipped, like on ingest
