"""Browser-test processes: the system Chromium, the CLI, the store read from a fresh process,
and the ``workbench app`` process with its server-side session state."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO, cli_env

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
CHROMIUM_INSTALL = "apt-get install -y --no-install-recommends chromium"


# ---------------------------------------------------------------------------------- Chromium


def find_chromium() -> str | None:
    """The system Chromium (Debian's ``chromium`` package), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> str:
    """The path of the system Chromium, installing Debian's ``chromium`` when it is missing.

    Raises:
        RuntimeError: it is missing and cannot be installed here (not root, no apt-get, or
            apt-get failed); the message names the install command.
    """
    path = find_chromium()
    if path:
        return path
    how = f"the browser tests need Debian's chromium; install it with `{CHROMIUM_INSTALL}`"
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RuntimeError(f"{how} (as root); this process cannot (not root or no apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = []
    for cmd in (CHROMIUM_INSTALL.split(), ["apt-get", "update"], CHROMIUM_INSTALL.split()):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        log.append(f"$ {' '.join(cmd)} -> {proc.returncode}\n{proc.stderr[-2000:]}")
        if cmd[1] == "install" and proc.returncode == 0 and find_chromium():
            break
    path = find_chromium()
    if not path:
        raise RuntimeError(f"{how}; installing it here failed:\n" + "\n".join(log))
    return path


# ------------------------------------------------------------------------------ CLI and store


def wb(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``workbench ARGS`` as a new process, as a user would; fail with its output."""
    proc = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env=cli_env(), cwd=REPO, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


_STORE_QUERY = """
import json, sys
from workbench.store.workspace import open_workspace
ds = open_workspace(sys.argv[1]).dataset
q = json.loads(sys.argv[2])
out = {}
for field in q.get("count_values", []):
    out[field] = {str(k): v for k, v in ds.count_values(field).items()}
if q.get("top"):
    field = q["top"]
    view = ds.exists(field).sort_by(field, reverse=True)
    out["top"] = {"ids": view.limit(3).values("id"), "values": view.limit(3).values(field)}
out["fields"] = sorted(ds.get_field_schema())
out["brain_runs"] = ds.list_brain_runs()
print(json.dumps(out))
"""


def store_query(ws: Path, count_values: tuple[str, ...] = (), top: str | None = None
                ) -> dict[str, Any]:
    """Read the workspace's store from a fresh process (this one may hold another database).

    Args:
        ws: the workspace folder.
        count_values: fields whose value counts to return (keys as strings; None -> "None").
        top: a float field: return the ids and values of the 3 samples with its highest values.

    Returns:
        ``{field: {value: count}, "top": {"ids", "values"}, "fields": [...],
        "brain_runs": [...]}``.
    """
    query = json.dumps({"count_values": list(count_values), "top": top})
    proc = subprocess.run([sys.executable, "-c", _STORE_QUERY, str(ws), query],
                          capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"reading the store failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------------------- the App process


@dataclass
class App:
    """A running ``workbench app`` process."""

    url: str
    dataset: str
    workspace: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def dataset_url(self) -> str:
        return f"{self.url}/datasets/{self.dataset}"

    def log_tail(self, n: int = 4000) -> str:
        """The end of the App process's output."""
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def start_app(ws: Path, dataset: str, port: int, log: Path, timeout: float = 180) -> App:
    """Start ``workbench app --no-open`` for ``ws`` and wait until its HTTP port answers."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "app", "--no-open", "--port", str(port),
             "-w", str(ws)],
            stdout=fh, stderr=subprocess.STDOUT, env=cli_env(), cwd=REPO,
            start_new_session=True)  # its own process group: the App server goes with it
    app = App(url=f"http://127.0.0.1:{port}", dataset=dataset, workspace=ws, proc=proc, log=log)
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(app.url, timeout=5) as resp:
                if resp.status == 200:
                    return app
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_app(app)
            raise AssertionError(f"the App did not come up on {app.url}:\n{app.log_tail()}")
        time.sleep(0.5)


def stop_app(app: App) -> None:
    """Stop the App process and the App server it started (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(app.proc.pid, signal.SIGTERM)
    try:
        app.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.proc.pid, signal.SIGKILL)
        app.proc.wait(timeout=30)


def reset_app_state(app: App) -> None:
    """Reset the App session's server-side state: no view stages, default spaces (no panels
    open), no selection, default colours.

    The state lives in the App server and outlives browser contexts (a view an operator set
    shows in the next context), so each test starts from here. This is the App's own
    ``setDataset`` mutation (what choosing the dataset in the header sends).
    """
    query = ('mutation { setDataset(subscription: "pytest-reset", session: null, '
             f'name: {json.dumps(app.dataset)}, viewName: null) }}')
    req = urllib.request.Request(f"{app.url}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = json.loads(resp.read())
    if body.get("errors") or not body.get("data", {}).get("setDataset"):
        raise AssertionError(f"resetting the App state failed: {body}")
