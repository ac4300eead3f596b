"""Each App operator's ``execute`` on a real workspace, through the shipped plugin, with a real
FiftyOne ExecutionContext: what it writes, what it shows, what it refuses."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.annotation import writers
from tests.annotation.conftest import RoundWorkspace, build_round, snapshot
from tests.ui.plugin_ctx import context, execute, operator
from workbench.store import schema

pytestmark = pytest.mark.integration


@pytest.fixture
def round_ws(workspace: Any, tmp_path: Path) -> RoundWorkspace:
    return build_round(workspace, tmp_path)


def _triggered(requests: list[dict[str, Any]]) -> list[str]:
    return [r["operator_uri"].rsplit("/", 1)[-1] for r in requests]


def test_status_shows_rounds_and_runs(round_ws: RoundWorkspace) -> None:
    out, _ = execute(round_ws.ws, "wb_status")
    assert out["ok"], out["summary"]
    assert "round-1" in out["summary"] and "select" in out["summary"]


def test_select_queues_a_round_and_opens_it(round_ws: RoundWorkspace) -> None:
    ws = round_ws.ws
    dry, _ = execute(ws, "wb_select", n=2, run="p1", strategy="entropy", dry_run=True)
    assert dry["ok"] and dry["result"]["selected"] == 2
    assert ws.samples.count_documents({schema.ROUND_SELECTED: "round-2"}) == 0
    out, requests = execute(ws, "wb_select", n=2, run="p1", strategy="entropy",
                            round="round-2", conf_band="0.1, 0.9")
    assert out["ok"], out["summary"]
    assert "Selected 2" in out["summary"] and "round-2" in out["summary"]
    picked = ws.samples.count_documents({schema.ROUND_SELECTED: "round-2",
                                         schema.STATUS: "queued"})
    assert picked == 2
    assert {"reload_dataset", "set_view"} <= set(_triggered(requests))


@pytest.mark.parametrize(("params", "message"), [
    ({"n": 0}, "positive number"),
    ({"n": 2, "strategy": "nonsense"}, "not one of"),
    ({"n": 2, "conf_band": "0.9"}, "needs 2 numbers"),
    ({"n": 2, "strategy": "margin", "run": "no-such-run"}, "no-such-run"),
])
def test_refused_input_says_why_and_writes_nothing(round_ws: RoundWorkspace,
                                                   params: dict[str, Any], message: str) -> None:
    before = snapshot(round_ws.ws)
    out, requests = execute(round_ws.ws, "wb_select", **params)
    assert not out["ok"] and "Refused" in out["summary"] and message in out["summary"]
    assert snapshot(round_ws.ws) == before and not requests


def test_the_form_lists_what_the_workspace_holds(round_ws: RoundWorkspace) -> None:
    ctx = context(round_ws.ws, {"n": 0})
    prop = operator("wb_select").resolve_input(ctx)
    props = prop.type.properties
    assert [c.value for c in props["run"].view.choices] == ["p1"]
    assert [c.value for c in props["round"].view.choices] == ["round-1"]
    assert "positive number" in props["problem"].view.description  # checked before submit
    ok = operator("wb_select").resolve_input(context(round_ws.ws, {"n": 3}))
    assert "problem" not in ok.type.properties


def test_delegated_run_reports_progress_and_raises_refusals(round_ws: RoundWorkspace) -> None:
    from workbench.errors import WorkbenchError

    progress: list[tuple[float, str]] = []
    out, requests = execute(round_ws.ws, "wb_annotate_export", delegated=True, progress=progress,
                            out=str(round_ws.tmp / "d.zip"))
    assert out["ok"] and progress and 0 <= progress[-1][0] <= 1
    assert not requests  # nothing to reload: no App waits on a delegated run
    with pytest.raises(WorkbenchError):
        execute(round_ws.ws, "wb_select", delegated=True, n=0)


def test_annotation_round_trip_and_undo(round_ws: RoundWorkspace) -> None:
    rw = round_ws
    out = rw.tmp / "op.zip"
    exported, _ = execute(rw.ws, "wb_annotate_export", out=str(out), pre_annotations="p1")
    assert exported["ok"] and exported["result"]["images"] == 5 and out.is_file()
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    paths = {str(d["_id"]): d["filepath"] for d in rw.ws.samples.find({}, {"filepath": 1})}
    truth = {im["file_name"]: (im["width"], im["height"], rw.truth[paths[im["sample_id"]]])
             for im in manifest["images"]}
    bad = dict(truth)
    first = next(iter(bad))
    bad[first] = (bad[first][0], bad[first][1], [("octopus", [0.1, 0.1, 0.2, 0.2])])
    before = snapshot(rw.ws)
    refused, _ = execute(rw.ws, "wb_annotate_import",
                         path=str(writers.coco(bad, rw.tmp / "bad.json")), package=str(out))
    assert not refused["ok"] and "octopus" in refused["summary"]
    assert snapshot(rw.ws) == before
    good = str(writers.coco(truth, rw.tmp / "good.json"))
    dry, _ = execute(rw.ws, "wb_annotate_import", path=good, package=str(out), dry_run=True)
    assert dry["ok"] and dry["result"]["images"] == 5 and snapshot(rw.ws) == before
    done, _ = execute(rw.ws, "wb_annotate_import", path=good, package=str(out))
    import_id = done["result"]["import_id"]
    assert import_id and rw.ws.samples.count_documents({schema.STATUS: "in_annotation"}) == 0
    form = {f.name: f for f in operator("wb_annotate_undo").spec.form(rw.ws)}
    assert form["import_id"].choices == (import_id,)
    undone, _ = execute(rw.ws, "wb_annotate_undo", import_id=import_id)
    assert undone["ok"] and undone["result"]["restored"] == 5
    assert rw.ws.samples.count_documents({schema.STATUS: "in_annotation"}) == 5


def test_split_check_and_loop_status(round_ws: RoundWorkspace) -> None:
    ws = round_ws.ws
    split, _ = execute(ws, "wb_split", ratios="0.5, 0.25, 0.25", seed=3)
    assert split["ok"], split["summary"]
    check, _ = execute(ws, "wb_check")
    assert check["ok"], check["summary"]
    loop, _ = execute(ws, "wb_loop_status")
    assert loop["ok"] and "| round-1 |" in loop["summary"]


def test_ingest_operator(workspace: Any, tmp_path: Path) -> None:
    from tests.conftest import demo_images

    folder = tmp_path / "new"
    folder.mkdir()
    for p in demo_images("valid", 3):
        (folder / p.name).write_bytes(p.read_bytes())
    out, requests = execute(workspace, "wb_ingest", path=str(folder), format="images",
                            source="cam-7")
    assert out["ok"], out["summary"]
    assert workspace.samples.count_documents({schema.SOURCE: "cam-7"}) == 3
    assert "set_view" in _triggered(requests)
    again, _ = execute(workspace, "wb_ingest", path=str(tmp_path / "missing"), format="images")
    assert not again["ok"] and "missing" in again["summary"]


def test_queue_the_app_s_selection(round_ws: RoundWorkspace) -> None:
    ws = round_ws.ws
    pool = [str(d["_id"]) for d in ws.samples.find(
        {schema.STATUS: "unlabeled", schema.SPLIT: "pool"}, {"_id": 1}).sort("_id", -1)]
    labeled = str(ws.samples.find_one({schema.STATUS: "labeled"}, {"_id": 1})["_id"])
    ctx = context(ws, {"round": "picked"})
    ctx.request_params["selected"] = [pool[0], labeled, pool[1]]
    out = operator("wb_queue_selected").execute(ctx)
    assert out["ok"], out["summary"]
    assert out["result"]["sample_ids"] == [pool[0], pool[1]]  # in the order chosen
    assert "not unlabeled pool images" in out["summary"]
    assert ws.samples.count_documents({schema.ROUND_SELECTED: "picked"}) == 2
    none = operator("wb_queue_selected").execute(context(ws, {"round": "empty"}))
    assert not none["ok"] and "select them in the App" in none["summary"]
