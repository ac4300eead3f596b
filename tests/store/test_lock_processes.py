"""Two real processes writing one embedded-mongod workspace: serialized, no lost update."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env, demo_images, make_yolo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stop_mongods")]

#: Opens the workspace, ingests A under the write lock, and keeps holding it until ``go`` exists.
HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workbench.ingestion import api
    from workbench.store import lock
    from workbench.store.workspace import open_workspace

    ws = open_workspace(sys.argv[1])
    with lock.hold(ws, "workbench ingest A (test holder)"):
        api.ingest(ws, sys.argv[2], "yolo")
        print("held", flush=True)
        deadline = time.monotonic() + 120
        while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    print("released", flush=True)
""")


def wb(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
                            cwd=REPO)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = wb(*args)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def samples(ws: str) -> int:
    res = run("status", "-w", ws, "--json")
    assert res.returncode == 0, res.stderr
    return int(json.loads(res.stdout)["samples"])


def test_second_writer_is_refused_or_waits_and_nothing_is_lost(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    assert run("init", ws).returncode == 0
    a = make_yolo(tmp_path / "a", {"train": demo_images("train", 3)})
    b = make_yolo(tmp_path / "b", {"train": demo_images("valid", 4)})
    go = tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, ws, str(a), str(go)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
                              cwd=REPO)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()  # type: ignore[union-attr]
        busy = run("ingest", str(b), "-f", "yolo", "-w", ws)
        assert busy.returncode != 0
        assert "workspace busy: PID" in busy.stderr and f"{holder.pid} on" in busy.stderr
        assert "`workbench ingest A (test holder)`" in busy.stderr and "--wait" in busy.stderr
        assert "Traceback" not in busy.stderr
        assert samples(ws) == 3  # read-only verbs need no lock; the refused ingest wrote nothing
        waiter = wb("--wait", "60", "ingest", str(b), "-f", "yolo", "-w", ws, "--json")
        time.sleep(2)
        assert waiter.poll() is None  # still waiting for the holder
        go.touch()
        out, err = waiter.communicate(timeout=300)
        assert waiter.returncode == 0, err
        assert json.loads(out)["added"] == 4, out
    finally:
        go.touch()
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    assert samples(ws) == 3 + 4  # both writes are there
