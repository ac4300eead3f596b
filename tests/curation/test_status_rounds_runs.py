"""status with selection rounds and runs, and its Markdown, on a real mongod."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.annotation.conftest import build_round
from tests.conftest import REPO, cli_env
from workbench.curation.status import RECENT_RUNS, status_markdown, workspace_status
from workbench.selection.api import SelectConfig, select
from workbench.store import schema

pytestmark = pytest.mark.integration


def test_status_lists_rounds_runs_and_renders_markdown(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = build_round(workspace, tmp_path, pool_n=8, select_n=5).ws
    ids = [d["_id"] for d in ws.samples.find({schema.ROUND_SELECTED: "round-1"}).sort("_id", 1)]
    ws.samples.update_many({"_id": {"$in": ids[:2]}}, {"$set": {schema.STATUS: "in_annotation"}})
    ws.samples.update_one({"_id": ids[2]}, {"$set": {schema.STATUS: "labeled"}})
    select(ws, SelectConfig(n=2, strategy="entropy", round="round-2"))
    result = workspace_status(ws)
    data = json.loads(json.dumps(result.to_dict()))  # JSON-ready without help
    common = {"unlabeled": 0, "labeled": 0, "in_annotation": 0}
    rows = [{k: v for k, v in r.items() if k != "started_at"} for r in data["round_progress"]]
    assert rows == [
        {"round": "round-1", "strategy": "random", "model_run": None, "selected": 5,
         **common, "queued": 2, "in_annotation": 2, "labeled": 1},
        {"round": "round-2", "strategy": "entropy", "model_run": "p1", "selected": 2,
         **common, "queued": 2}]
    assert all(r["started_at"] for r in data["round_progress"])
    assert data["split_status"]["pool"] == {"unlabeled": 1, "queued": 4, "in_annotation": 2,
                                            "labeled": 1}
    assert sum(data["split_status"]["train"].values()) == data["splits"]["train"]["samples"]
    recent = data["recent_runs"]
    assert set(recent) == {"ingest", "split", "predictions-import", "select"}
    assert [(r["run"], r["metric"], r["value"]) for r in recent["select"]] == [
        ("round-2", "selected", 2), ("round-1", "selected", 5)]
    assert [r["value"] for r in recent["ingest"]] == [8, 8]
    assert recent["predictions-import"][0]["metric"] == "samples"
    assert data["runs"]["select"] == 2 and data["rounds"]["round-1"]["samples"] == 5

    md = status_markdown(result)
    for title in ("# Workspace", "## Splits × status", "## Sources", "## Classes", "## Rounds",
                  "## Runs"):
        assert f"\n{title}" in "\n" + md
    assert "| split | unlabeled | queued | in_annotation | labeled | samples | boxes |" in md
    assert "| pool | 1 | 4 | 2 | 1 | 8 | 0 |" in md
    assert "| round-1 | random | – | 5 | 2 | 2 | 1 | 0 |" in md
    assert "| round-2 | entropy | p1 | 2 | 2 | 0 | 0 | 0 |" in md
    assert "| select | 2 | round-2 | completed |" in md and "selected 2" in md
    tables: list[list[str]] = []
    for prev, line in zip(["", *md.splitlines()], md.splitlines(), strict=False):
        if line.startswith("|"):
            if not prev.startswith("|"):
                tables.append([])
            tables[-1].append(line.replace("\\|", ""))
    assert len(tables) == 5  # every table: same cells per row as its header, a separator row
    assert all(len({t.count("|") for t in table}) == 1 and set(table[1]) <= set("|-:")
               for table in tables)


def test_recent_runs_are_capped(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = build_round(workspace, tmp_path, pool_n=8, select_n=1).ws
    for k in range(RECENT_RUNS + 1):
        select(ws, SelectConfig(n=1, strategy="random", round=f"more-{k}"))
    result = workspace_status(ws)
    assert result.runs["select"] == RECENT_RUNS + 2
    assert [r["run"] for r in result.recent_runs["select"]] == [
        f"more-{k}" for k in reversed(range(1, RECENT_RUNS + 1))]
    assert len(result.round_progress) == RECENT_RUNS + 2


def test_empty_workspace_markdown(workspace) -> None:  # type: ignore[no-untyped-def]
    md = status_markdown(workspace_status(workspace))
    assert "No selection round yet" in md and "No runs yet" in md
    assert md.startswith(f"# Workspace `{workspace.config.name}`")


def test_cli_status_prints_rounds_and_markdown(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = build_round(workspace, tmp_path, pool_n=4, select_n=2).ws
    code = ("import sys; from workbench.cli.main import main; "
            "sys.argv = ['workbench', *sys.argv[1:]]; main()")
    env = cli_env()
    for flags, expected in (([], "round-1"), (["--markdown"], "| round-1 | random |")):
        proc = subprocess.run([sys.executable, "-c", code, "status", "-w", str(ws.root),
                               *flags], capture_output=True, text=True, cwd=REPO, env=env,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout
