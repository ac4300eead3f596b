"""``query.workspace_counts`` / ``class_counts`` / ``fold``: one pass over the samples gives
what counting each key separately gives (``status`` and ``check`` read a 1M-image store once)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from workbench.store import query, schema

pytestmark = pytest.mark.integration

KEYS = [schema.SPLIT, schema.STATUS, schema.SOURCE, schema.ROUND_SELECTED]


def _docs(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    docs = []
    for k in range(n):
        doc: dict[str, Any] = {"filepath": f"/x/{k}.jpg", "tags": []}
        for key, values in ((schema.SPLIT, ["train", "val", "test", "pool", None]),
                            (schema.STATUS, ["labeled", "unlabeled", None]),
                            (schema.SOURCE, ["a", "b"]), (schema.ROUND_SELECTED, [1, 2, None])):
            value = values[int(rng.integers(len(values)))]
            if value is not None:
                doc[key] = value
        n_boxes = int(rng.integers(0, 4))
        if n_boxes or rng.random() < 0.5:  # absent, empty and non-empty ground truth
            doc[schema.GROUND_TRUTH] = {"detections": [
                {"label": ["fish", "shark", "eel"][int(rng.integers(3))]}
                for _ in range(n_boxes)]}
        docs.append(doc)
    return docs


def _brute(docs: list[dict[str, Any]], key: str, where: dict[str, Any] | None = None
           ) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for d in docs:
        if where and any(d.get(k) != v for k, v in where.items()):
            continue
        name = "none" if d.get(key) is None else str(d[key])
        entry = out.setdefault(name, {"samples": 0, "boxes": 0})
        entry["samples"] += 1
        entry["boxes"] += len((d.get(schema.GROUND_TRUTH) or {}).get("detections") or [])
    return dict(sorted(out.items()))


def _brute_classes(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in docs:
        labels = [b["label"] for b in (d.get(schema.GROUND_TRUTH) or {}).get("detections") or []]
        split = d.get(schema.SPLIT) or "unassigned"
        for label, boxes in Counter(labels).items():
            entry = out.setdefault(label, {"boxes": 0, "images": 0, "by_split": {}})
            entry["boxes"] += boxes
            entry["images"] += 1
            cell = entry["by_split"].setdefault(split, {"boxes": 0, "images": 0})
            cell["boxes"] += boxes
            cell["images"] += 1
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_one_pass_counts_equal_counting_each_key(workspace: Any, seed: int) -> None:
    docs = _docs(300, seed)
    workspace.samples.insert_many([dict(d) for d in docs])
    cells, classes = query.workspace_counts(workspace, KEYS)
    assert sum(c.samples for c in cells) == 300
    for key in KEYS:
        assert query.fold(cells, key) == _brute(docs, key) == query.grouped_counts(workspace,
                                                                                  key), key
    for state in ("labeled", "unlabeled"):
        where = {schema.STATUS: state}
        assert query.fold(cells, schema.SPLIT, where) == _brute(docs, schema.SPLIT, where)
    assert classes == _brute_classes(docs) == query.class_counts(workspace)


def test_an_empty_store_counts_nothing(workspace: Any) -> None:
    cells, classes = query.workspace_counts(workspace, KEYS)
    assert (cells, classes) == ([], {})
    assert query.class_counts(workspace) == {}


def test_duplicate_hashes_with_and_without_the_unique_index(workspace: Any) -> None:
    from workbench.store import checks
    from workbench.store.schema import ensure_workspace_schema

    ensure_workspace_schema(workspace)  # the unique index on string hashes
    assert checks._unique_string_hashes(workspace)
    workspace.samples.insert_many(
        [{"filepath": f"/x/{k}.jpg", schema.CONTENT_HASH: f"h{k}"} for k in range(50)]
        + [{"filepath": f"/y/{k}.jpg", schema.CONTENT_HASH: 7} for k in range(3)]  # not strings
        + [{"filepath": "/z/0.jpg", schema.CONTENT_HASH: ""}, {"filepath": "/z/1.jpg"}])
    found = checks.duplicate_hashes(workspace)
    assert [(d["content_hash"], d["samples"]) for d in found] == [(7, 3)]
    name = next(n for n, i in workspace.samples.index_information().items()
                if i.get("unique") and i["key"][0][0] == schema.CONTENT_HASH)
    workspace.samples.drop_index(name)  # an index dropped by hand: strings can repeat now
    workspace.samples.insert_one({"filepath": "/x/again.jpg", schema.CONTENT_HASH: "h3"})
    assert not checks._unique_string_hashes(workspace)
    found = checks.duplicate_hashes(workspace)
    assert sorted((str(d["content_hash"]), d["samples"]) for d in found) == [("7", 3), ("h3", 2)]


@pytest.mark.parametrize(("doc", "problems"), [
    ({"status": "labeled", "split": "train", "tags": ["labeled", "train"],
      "ground_truth": {"detections": []}}, []),
    ({"status": "unlabeled", "split": "pool", "tags": ["unlabeled", "pool"]}, []),
    ({"status": "weird", "split": "pool", "tags": ["weird", "pool"]}, ["unknown status"]),
    ({"status": "unlabeled", "split": "pool", "tags": ["pool"]}, ["status tag missing"]),
    ({"status": "unlabeled", "split": "pool", "tags": ["unlabeled"]}, ["split tag missing"]),
    ({"status": "unlabeled", "split": "pool", "tags": ["unlabeled", "pool", "train"]},
     ["tag of another status or split"]),
    ({"status": "queued", "split": "pool", "tags": ["queued", "pool"]},
     ["queued without a round"]),
    ({"status": "labeled", "split": "pool", "tags": ["labeled", "pool"],
      "ground_truth": {"detections": []}}, ["labeled but in the pool"]),
    ({"status": "labeled", "split": "val", "tags": ["labeled", "val"]},
     ["labeled without ground truth"]),
])
def test_one_scan_finds_each_kind_of_inconsistent_sample(workspace: Any, doc: dict[str, Any],
                                                        problems: list[str]) -> None:
    from workbench.store import checks

    docs = _docs(40, 3)
    for d in docs:  # consistent background samples
        d.update({"status": "unlabeled", "split": "pool", "tags": ["unlabeled", "pool"]})
        d.pop(schema.ROUND_SELECTED, None)
    workspace.samples.insert_many([*docs, {"filepath": "/odd.jpg", **doc}])
    scan = checks.scan_samples(workspace)
    assert scan.inconsistent_count == (1 if problems else 0)
    assert [(d["filepath"], d["problems"]) for d in scan.inconsistent] == (
        [("/odd.jpg", problems)] if problems else [])
    assert scan.classes == query.class_counts(workspace)
    assert scan.duplicate_hashes == checks.duplicate_hashes(workspace) == []
