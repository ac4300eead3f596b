"""Fuzz the five returned-annotation parsers against a package manifest (no mongod).

Each case writes a valid export in the tool's own layout (``tests/annotation/writers.py``),
mutates one file (truncated, emptied, garbled, a value replaced by a wrong type, NaN/inf, a
huge number, unicode or a path trick, a duplicated entry) and parses it with the format
given and with ``auto``: the result is a batch whose problems are Issues, or a
``WorkbenchError`` naming the problem.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.annotation import writers
from tests.fuzz.conftest import CASES
from tests.fuzz.strategies import mutated_json_file, mutated_text
from workbench.annotation.bundle import open_bundle
from workbench.annotation.formats import AUTO, parse_returned
from workbench.annotation.manifest import Manifest, PackageImage, classes_hash
from workbench.errors import WorkbenchError
from workbench.media.records import check_boxes

CLASSES = ["fish", "shark"]
TRUTH: writers.Truth = {
    "a.jpg": (200, 100, [("fish", [0.1, 0.1, 0.2, 0.3]), ("shark", [0.5, 0.5, 0.4, 0.4])]),
    "b.jpg": (64, 48, [("fish", [0.0, 0.0, 1.0, 1.0])]),
    "c.jpg": (10, 10, []),
}


def manifest() -> Manifest:
    """A package of the three ``TRUTH`` images."""
    images = [PackageImage(f"{k:024x}", name, "0" * 64, w, h)
              for k, (name, (w, h, _)) in enumerate(TRUTH.items(), start=1)]
    return Manifest("pkg1", {"name": "t", "dataset_id": "d", "root": "/x"}, "round-1", None,
                    "2026-11-30T00:00:00Z", "0", CLASSES, classes_hash(CLASSES), None, images)


def parse_contract(path: Path, fmt: str, man: Manifest, counter: str | None) -> None:
    """Parse ``path`` as ``fmt``: a batch with Issues, or a WorkbenchError; nothing else."""
    if counter:
        CASES[counter] += 1
    try:
        returned = parse_returned(open_bundle(path), man, fmt)
    except WorkbenchError as exc:
        assert str(exc).strip()
        return
    check_boxes(returned.batch)
    for issue in returned.batch.issues:
        assert issue.message and issue.file, issue


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _fuzz(data: st.DataObject, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = writers.WRITERS[fmt](TRUTH, Path(d))
        target = data.draw(st.sampled_from(_files(out) if out.is_dir() else [out]))
        text = target.read_text()
        if target.suffix == ".json":
            target.write_bytes(data.draw(mutated_json_file(json.loads(text))))
        else:
            target.write_bytes(data.draw(mutated_text(text)))
        parse_contract(out, data.draw(st.sampled_from([fmt, AUTO])), manifest(),
                       f"annotation:{fmt}")


@pytest.mark.parametrize("fmt", sorted(writers.WRITERS))
@given(data=st.data())
def test_format(fmt: str, data: st.DataObject) -> None:
    _fuzz(data, fmt)
