"""Training through the CLI as a user runs it: --json output, interrupt and --resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env
from tests.test_cli_e2e import wb
from tests.training.conftest import cli_workspace

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stop_mongods")]


def test_interrupted_run_resumes_to_the_end(tmp_path: Path) -> None:
    ws = cli_workspace(tmp_path)
    last = Path(ws) / "runs" / "train" / "r" / "weights" / "last.pt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "train", "--model", "micro-relu", "--imgsz", "96",
         "--epochs", "6", "--batch", "8", "--run", "r", "-w", ws, "--json"],
        cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not last.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no checkpoint after 300 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    runs = {r["run"]: r for r in json.loads(wb("runs", "--kind", "train", "-w", ws,
                                               "--json").stdout)}
    # the interrupt may land after last.pt is written but before that epoch is recorded
    assert runs["r"]["status"] == "interrupted" and (runs["r"]["epochs"] or 0) < 6
    out = json.loads(wb("train", "--resume", "--run", "r", "-w", ws, "--json").stdout)
    for key in ("run", "weights", "map50", "epochs", "seconds"):
        assert key in out
    assert out["run"] == "r" and Path(out["weights"]).is_file()
    runs = {r["run"]: r for r in json.loads(wb("runs", "-w", ws, "--json").stdout)}
    assert runs["r"]["status"] == "completed" and runs["r"]["epochs"] >= 6
    again = wb("train", "--resume", "--run", "r", "-w", ws, check=False)
    assert again.returncode == 1 and "nothing to resume" in again.stderr


def test_train_errors_from_the_cli(tmp_path: Path) -> None:
    ws = cli_workspace(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("backbone: [[-1, 1, Conv")
    for args, message in [
        (["--model", str(bad)], "does not parse"),
        (["--model", "yolov8n.pt"], "never downloads weights"),
        (["--val", "split:test"], "has no labeled images"),
        (["--imgsz", "100"], "multiple of 32"),
    ]:
        proc = wb("train", *args, "--epochs", "1", "-w", ws, check=False)
        assert proc.returncode == 1, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
