"""``ssl compare``: the SSL start and scratch trained on the same labeled subset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError, WorkbenchError
from workbench.ssl.api import CompareConfig, compare, parse_labels
from workbench.store import runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_both_starts_train_on_the_same_subset(ssl_ws: Any, pretrained: Any) -> None:
    result = compare(ssl_ws, CompareConfig(run=pretrained.run, labels=[8], seeds=1, imgsz=96,
                                           epochs=1, batch=8))
    assert [(p["start"], p["labeled_images"]) for p in result.points] == [
        ("ssl", 8), ("scratch", 8)]
    docs = [runs.get_run(ssl_ws, p["train_run"]) for p in result.points]
    assert all(d is not None and d["status"] == "completed" for d in docs)
    ssl_ids, scratch_ids = (set(d["inputs"]["train_ids"]) for d in docs)  # type: ignore[index]
    assert ssl_ids == scratch_ids and len(ssl_ids) == 8
    assert docs[0]["params"]["model"] == pretrained.checkpoint  # type: ignore[index]
    assert Path(result.plot).is_file() and "| ssl |" in result.markdown
    saved = json.loads(Path(result.json).read_text())
    assert len(saved["points"]) == 2 and len(saved["summary"]) == 2
    assert ssl_ws.samples.count_documents({"tags": {"$regex": "^ssl-compare-"}}) == 0


def test_compare_refuses_more_labels_than_the_view_has(ssl_ws: Any, pretrained: Any) -> None:
    with pytest.raises(WorkbenchError, match="labeled images"):
        compare(ssl_ws, CompareConfig(run=pretrained.run, labels=[500]))


@pytest.mark.parametrize("text", ["", "a,b", "0,5", "5,5"])
def test_bad_label_lists_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_labels(text)
