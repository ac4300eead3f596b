"""The App operators call the same library functions (executed with a minimal context)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.annotation import writers
from tests.annotation.conftest import RoundWorkspace
from tests.conftest import REPO
from workbench.store import schema

pytestmark = pytest.mark.integration


def _plugin() -> Any:
    spec = importlib.util.spec_from_file_location(
        "workbench_plugin", REPO / "plugins" / "workbench_plugin" / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["workbench_plugin"] = module
    spec.loader.exec_module(module)
    return module


def _ctx(rw: RoundWorkspace, **params: Any) -> Any:
    rw.ws.dataset.info = {"workbench_workspace": str(rw.ws.root)}
    rw.ws.dataset.save()
    return SimpleNamespace(dataset=rw.ws.dataset, params=params, trigger=lambda *a, **k: None)


def test_export_and_import_operators(round_ws: RoundWorkspace) -> None:
    import json
    import zipfile

    rw = round_ws
    plugin = _plugin()
    out = rw.tmp / "op.zip"
    exported = plugin.ExportAnnotationPackage().execute(_ctx(rw, out=str(out),
                                                             pre_annotations="p1"))
    assert exported["images"] == 5 and Path(exported["path"]).is_file()
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    paths = {str(d["_id"]): d["filepath"] for d in rw.ws.samples.find({}, {"filepath": 1})}
    truth = {im["file_name"]: (im["width"], im["height"], rw.truth[paths[im["sample_id"]]])
             for im in manifest["images"]}
    bad = dict(truth)
    first = next(iter(bad))
    bad[first] = (bad[first][0], bad[first][1], [("octopus", [0.1, 0.1, 0.2, 0.2])])
    op = plugin.ImportAnnotations()
    refused = op.execute(_ctx(rw, path=str(writers.coco(bad, rw.tmp / "bad.json")),
                              package=str(out), dry_run=False))
    assert refused["import_id"] == "" and "octopus" in refused["problems"]
    good = str(writers.coco(truth, rw.tmp / "good.json"))
    dry = op.execute(_ctx(rw, path=good, package=str(out), dry_run=True))
    assert (dry["import_id"], dry["images"]) == ("", 5)
    done = op.execute(_ctx(rw, path=good, package=str(out), dry_run=False))
    assert done["import_id"] and done["images"] == 5
    assert rw.ws.samples.count_documents({schema.STATUS: "in_annotation"}) == 0
