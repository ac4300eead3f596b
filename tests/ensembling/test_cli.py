"""``workbench ensemble`` end to end: each command a process, on the real mongod."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.ensembling.conftest import EnsembleWorkspace, state, stored
from tests.test_cli_e2e import wb
from workbench.cli.main import build_app


def test_help_explains_fusing_and_training() -> None:
    group = CliRunner().invoke(build_app(), ["ensemble", "--help"], env={"COLUMNS": "200"})
    assert group.exit_code == 0
    for text in ("--runs", "--method", "--weights", "--skip-conf", "ensemble train", "train",
                 "wbf", "soft-nms"):
        assert text in group.output, text
    train = CliRunner().invoke(build_app(), ["ensemble", "train", "--help"],
                               env={"COLUMNS": "200"})
    assert train.exit_code == 0
    for text in ("--preset", "--predict", "recall", "precision", "--epochs", "--val"):
        assert text in train.output, text
    bare = CliRunner().invoke(build_app(), ["ensemble"], env={"COLUMNS": "200"})
    assert bare.exit_code == 0 and "--runs" in bare.output


@pytest.mark.slow
@pytest.mark.integration
def test_fuse_then_select_from_the_command_line(ens_ws: EnsembleWorkspace) -> None:
    ws, ids = ens_ws.ws, ens_ws.ids
    w = str(ws.root)
    done = wb("ensemble", "--runs", "a,b", "--weights", "1,1", "--run", "cli-e", "--json",
              "-w", w)
    data = json.loads(done.stdout)
    assert {k: data[k] for k in ("run", "members", "images", "boxes", "skipped")} == {
        "run": "cli-e", "members": ["a", "b"], "images": 3, "boxes": 4, "skipped": 1}
    assert "1 of the 4 samples" in done.stderr  # the warning, on stderr
    assert [d["agreement"] for d in stored(ws, "pred_cli_e", ids[2])] == [2]
    human = wb("ensemble", "--runs", "a,a2", "--method", "nms", "--run", "cli-n", "-w", w)
    assert "fused a, a2 (nms) into run cli-n: 4 boxes on 4 images" in human.stdout
    chosen = json.loads(wb("select", "--uncertain", "2", "--run", "cli-e", "--round", "r-cli",
                           "--json", "-w", w).stdout)
    assert chosen["selected"] == 2 and chosen["run"] == "cli-e"


@pytest.mark.slow
@pytest.mark.integration
def test_every_refusal_exits_non_zero_without_traceback_and_writes_nothing(
        ens_ws: EnsembleWorkspace) -> None:
    ws = ens_ws.ws
    w = str(ws.root)
    cases = [
        (["--runs", "a,nope"], "no run of this workspace is named 'nope'"),
        (["--runs", "a"], "at least two prediction runs"),
        (["--runs", "a,b", "--weights", "2"], "got 1 --weights for 2 --runs"),
        (["--runs", "b,c"], "no sample of view 'all'"),
        (["--runs", "a,b", "--run", "c"], "'c' exists; choose another --run or --replace"),
        (["--runs", "a,b", "--method", "vote"], "valid fusion methods"),
        (["--runs", "a,b", "--view", "nonsense:x"], "invalid view"),
    ]
    before = state(ws)
    for args, message in cases:
        proc = wb("ensemble", *args, "-w", w, check=False)
        assert proc.returncode != 0, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert state(ws) == before, args
    train = wb("ensemble", "train", "--preset", "recall,greedy", "-w", w, check=False)
    assert train.returncode != 0 and "unknown ensemble preset 'greedy'" in train.stderr
    assert "Traceback" not in train.stderr
