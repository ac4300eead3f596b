"""Fuzz the package manifest (no mongod), predictions JSONL and annotation import (real mongod).

The store-touching paths are bounded (few cases, they write to the database) and also check
that a refused file writes nothing: the samples and the run records are unchanged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.annotation import writers
from tests.conftest import demo_images
from tests.fuzz.conftest import CASES
from tests.fuzz.strategies import dump_json, mutated_json, mutated_json_file, mutated_text
from tests.fuzz.test_annotation_parsers import TRUTH, manifest, parse_contract
from workbench.annotation.bundle import open_bundle
from workbench.annotation.manifest import MANIFEST, load_manifest
from workbench.errors import WorkbenchError

#: Cases of the database-backed properties (each writes to mongod): a tenth of the profile's.
STORE_EXAMPLES = max(10, settings().max_examples // 10)


@given(data=st.data())
def test_manifest(data: st.DataObject) -> None:
    """A mutated manifest loads (then a valid export parses against it) or is refused."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / MANIFEST).write_bytes(data.draw(mutated_json_file(manifest().to_dict())))
        CASES["manifest"] += 1
        try:
            man = load_manifest(open_bundle(root))
        except WorkbenchError as exc:
            assert str(exc).strip()
            return
        man.lookup().find(data.draw(st.sampled_from(["a.jpg", "images/b.jpg", "../c.jpg"])))
        fmt = data.draw(st.sampled_from(sorted(writers.WRITERS)))
        (root / "export").mkdir()
        out = writers.WRITERS[fmt](TRUTH, root / "export")
        parse_contract(out, fmt, man, None)


def _state(ws: Any) -> tuple[str, int]:
    samples = json.dumps(list(ws.samples.find({}).sort("_id", 1)), default=str, sort_keys=True)
    return samples, ws.runs.count_documents({"dataset": ws.config.name})


def test_predictions_import(workspace: Any, tmp_path: Path) -> None:
    """A mutated predictions JSONL imports, or raises a WorkbenchError and writes nothing."""
    from workbench.ingestion.ingest import ingest
    from workbench.prediction.imported import import_predictions

    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images(n=3):
        shutil.copy(p, pool / p.name)
    ingest(workspace, pool, "images")
    classes = workspace.classes or ["fish"]
    label = classes[0]
    lines = [{"filepath": str((pool / p.name).resolve()),
              "detections": [{"label": label, "box": [0.1, 0.2, 0.3, 0.4], "confidence": 0.9},
                             {"label": label, "box": [0.5, 0.5, 0.2, 0.2],
                              "confidence": 0.4}]} for p in demo_images(n=3)]

    huge = tmp_path / "huge.jsonl"  # found by this property: a box of 10**400 crashed numpy
    huge.write_text(json.dumps({**lines[0], "detections": [
        {"label": label, "box": [0.1, 0.1, 10**400, 0.1], "confidence": 0.5}]}) + "\n")
    before = _state(workspace)
    with pytest.raises(WorkbenchError):
        import_predictions(workspace, huge, "huge")
    assert _state(workspace) == before

    @settings(max_examples=STORE_EXAMPLES)
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        f = tmp_path / "preds.jsonl"
        if data.draw(st.booleans()):
            k = data.draw(st.integers(0, len(lines) - 1))
            text = [json.dumps(x) for x in lines]
            text[k] = dump_json(data.draw(mutated_json(lines[k]))).decode()
            f.write_text("\n".join(text) + "\n")
        else:
            f.write_bytes(data.draw(mutated_text("\n".join(json.dumps(x) for x in lines))))
        before = _state(workspace)
        CASES["predictions-jsonl"] += 1
        try:
            # one run name, replaced: a refused file must leave the previous run intact
            import_predictions(workspace, f, "fuzz", skip_bad=data.draw(st.booleans()),
                               replace=True)
        except WorkbenchError as exc:
            assert str(exc).strip()
            assert _state(workspace) == before, "a refused import wrote to the store"

    prop()


def test_annotation_import(workspace: Any, tmp_path: Path) -> None:
    """A mutated returned export imports, or raises a WorkbenchError and writes nothing."""
    import zipfile

    from tests.annotation.conftest import build_round, snapshot
    from workbench.annotation.api import Manifest, PackageConfig, export_package
    from workbench.annotation.importer import import_annotations

    rw = build_round(workspace, tmp_path, pool_n=4, select_n=3)
    pkg = tmp_path / "pkg.zip"
    export_package(workspace, PackageConfig(out=pkg))
    with zipfile.ZipFile(pkg) as zf:
        man = Manifest.from_dict(json.loads(zf.read(MANIFEST)), "test")
    paths = {str(d["_id"]): d["filepath"] for d in workspace.samples.find({}, {"filepath": 1})}
    truth = {im.file_name: (im.width, im.height, rw.truth[paths[im.sample_id]])
             for im in man.images}

    @settings(max_examples=STORE_EXAMPLES)
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        fmt = data.draw(st.sampled_from(sorted(writers.WRITERS)))
        with tempfile.TemporaryDirectory() as d:
            out = writers.WRITERS[fmt](truth, Path(d))
            files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out]
            target = data.draw(st.sampled_from(files))
            text = target.read_text()
            target.write_bytes(data.draw(mutated_json_file(json.loads(text)))
                               if target.suffix == ".json" else data.draw(mutated_text(text)))
            before = snapshot(workspace)
            CASES["annotation-import"] += 1
            try:
                import_annotations(workspace, out, package=pkg)
            except WorkbenchError as exc:
                assert str(exc).strip()
                assert snapshot(workspace) == before, "a refused import wrote to the store"

    prop()
