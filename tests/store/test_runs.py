from __future__ import annotations

import socket
import subprocess
import sys

from workbench.store.runs import still_running


def test_still_running_follows_the_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    doc = {"status": "running", "pid": proc.pid, "host": socket.gethostname()}
    try:
        assert still_running(doc)
        assert not still_running({**doc, "status": "interrupted"})
        assert not still_running({**doc, "host": "another-machine"})
    finally:
        proc.kill()
        proc.wait()
    assert not still_running(doc)
