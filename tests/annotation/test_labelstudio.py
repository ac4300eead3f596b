"""Push a round to a real Label Studio server, annotate through its API, pull, check the store.

The fixture starts ``label-studio`` (SQLite, bound to 127.0.0.1) in a temporary data folder,
logs in as its user and creates a personal access token the way a user does in the UI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.annotation.conftest import build_round
from tests.conftest import _free_port
from tests.ui.plugin_ctx import execute
from workbench.annotation import lsjson
from workbench.annotation.api import PullConfig, PushConfig, pull, push
from workbench.annotation.labelstudio import KEY_ENV, Client
from workbench.store import schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]
USER, PASSWORD = "annotator@example.com", "workbench-test-pass"


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    import requests

    data = tmp_path_factory.mktemp("label-studio")
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "DJANGO_DB": "sqlite",
           "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "LOG_LEVEL": "WARNING"}
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from label_studio.server import main; main()", "start",
         "--no-browser", "--port", str(port), "--internal-host", "127.0.0.1",
         "--username", USER, "--password", PASSWORD],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            if requests.get(url + "/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"Label Studio did not start; see {data / 'server.log'}:\n"
                        + (data / "server.log").read_text()[-3000:])
        time.sleep(1)
    s = requests.Session()
    s.get(url + "/user/login/", timeout=30)
    s.post(url + "/user/login/", timeout=30, headers={"Referer": url + "/user/login/"},
           data={"email": USER, "password": PASSWORD,
                 "csrfmiddlewaretoken": s.cookies["csrftoken"]})
    r = s.post(url + "/api/token/", timeout=30,
               headers={"X-CSRFToken": s.cookies["csrftoken"], "Referer": url + "/"})
    assert r.ok, r.text
    yield url, r.json()["token"]
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _annotate(client: Client, task: dict[str, Any], boxes: list[tuple[str, list[float]]],
              w: int, h: int) -> None:
    labels = [b[0] for b in boxes]
    xywhn = [b[1] for b in boxes]
    client._call("POST", f"/api/tasks/{task['id']}/annotations/", json={
        "result": lsjson.rect_results(labels, xywhn, w, h), "was_cancelled": False})


def test_push_annotate_pull(workspace: Any, tmp_path: Path, label_studio: tuple[str, str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    url, token = label_studio
    monkeypatch.setenv(KEY_ENV, token)
    rw = build_round(workspace, tmp_path)
    ws = rw.ws
    pushed = push(ws, PushConfig(url=url, pre_annotations="p1")).to_dict()
    assert (pushed["tasks_created"], pushed["already_in_project"]) == (5, 0)
    assert ws.samples.distinct(schema.STATUS, {schema.ROUND_SELECTED: "round-1"}) == [
        "in_annotation"]

    client = Client(url)
    project = client.project_by_title(ws.config.name)
    assert project is not None and '<Label value="fish"' in project["label_config"]
    tasks = client.export_tasks(project["id"])
    assert len(tasks) == 5
    assert all(t["predictions"] and not t["annotations"] for t in tasks)
    # the images are served by Label Studio itself
    image = client.http.get(url + tasks[0]["data"]["image"], timeout=30)
    assert image.ok and image.content[:2] == b"\xff\xd8"

    docs = {str(d["_id"]): d for d in ws.samples.find({schema.ROUND_SELECTED: "round-1"})}
    annotated = tasks[:3]
    for t in annotated:
        d = docs[t["data"]["sample_id"]]
        _annotate(client, t, rw.truth[d["filepath"]], d["metadata"]["width"],
                  d["metadata"]["height"])
    negative = tasks[3]
    _annotate(client, negative, [], 1, 1)

    result = pull(ws, PullConfig(url=url))
    assert (result.images, result.not_annotated) == (4, 1)
    for t in annotated:
        d = ws.samples.find_one({"_id": docs[t["data"]["sample_id"]]["_id"]})
        got = sorted((x["label"], x["bounding_box"]) for x in d[schema.GROUND_TRUTH]["detections"])
        want = sorted(rw.truth[d["filepath"]])
        assert [g[0] for g in got] == [w[0] for w in want]
        for (_, gb), (_, wb) in zip(got, want, strict=True):
            assert max(abs(a - b) for a, b in zip(gb, wb, strict=True)) < 1e-6
        assert d[schema.STATUS] == "labeled"
    neg = ws.samples.find_one({"_id": docs[negative["data"]["sample_id"]]["_id"]})
    assert neg[schema.GROUND_TRUTH]["detections"] == [] and neg[schema.STATUS] == "labeled"
    assert ws.samples.count_documents({schema.STATUS: "in_annotation"}) == 1

    # the same again from the App's operators: nothing new to pull, nothing new to push
    pulled, _ = execute(ws, "wb_ls_pull", url=url)
    assert pulled["ok"] and pulled["result"]["images"] == 0, pulled["summary"]
    again, _ = execute(ws, "wb_ls_push", url=url)
    assert again["ok"], again["summary"]
    assert (again["result"]["tasks_created"], again["result"]["already_in_project"]) == (0, 5)
