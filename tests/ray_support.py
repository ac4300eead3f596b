"""A real Ray cluster on loopback for the ``--engine ray`` tests: a head node and one more
node, one CPU each, started with ``ray start`` (the way a user starts one)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, _free_port

RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` command of this Python

#: No usage stats; no token auth (a loopback cluster of the test; Ray 2.60 would otherwise
#: switch it on or off depending on whether ~/.ray/auth_token happens to exist).
RAY_SETTINGS = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def ray_env() -> dict[str, str]:
    """This process's environment with :data:`RAY_SETTINGS` (for CLI subprocesses)."""
    return dict(os.environ) | RAY_SETTINGS


@contextlib.contextmanager
def ray_cluster() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a head node plus one more node (one CPU each), stopped after.

    Skips the test when Ray is not installed.
    """
    pytest.importorskip("ray")
    saved = {k: os.environ.get(k) for k in RAY_SETTINGS}
    os.environ.update(RAY_SETTINGS)  # for the in-process drivers too
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="wbray", dir="/tmp")  # short: Ray's socket paths have a limit
    env = ray_env()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--temp-dir", temp,
              "--disable-usage-stats"]
    try:
        for role in (["--head", "--port", str(port), "--include-dashboard=false"],
                     ["--address", f"127.0.0.1:{port}"]):
            done = subprocess.run([*RAY, "start", *role, *common], env=env, text=True,
                                  capture_output=True, timeout=180)
            assert done.returncode == 0, f"ray start {role[0]} failed:\n{done.stderr[-3000:]}"
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def imports_of(modules: list[str]) -> tuple[list[str], list[str]]:
    """What importing ``modules`` in a fresh Python loads: ``(database libraries, workbench.store
    modules)`` (what a Ray actor process would carry)."""
    code = (f"import json, sys, {', '.join(modules)}; "
            "print(json.dumps([sorted({m.split('.')[0] for m in sys.modules} & "
            "{'fiftyone', 'pymongo', 'bson', 'mongoengine'}), "
            "sorted(m for m in sys.modules if m.startswith('workbench.store'))]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=REPO, timeout=120)
    libs, store = json.loads(done.stdout.strip().splitlines()[-1])
    return libs, store
