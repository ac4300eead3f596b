"""``workbench annotate push/pull --backend labelstudio``: a real Label Studio server over HTTP.

Push creates (or updates) a project whose labeling config comes from the class list,
uploads the images to the server (so it needs no access to this machine's disk), and
creates one task per image with the pre-annotations as predictions. The project's manifest
(the same as an annotation package's) is recorded as a run. Pull fetches the project's
tasks and imports the submitted annotations through the validated import path.

The API key comes from ``LABEL_STUDIO_API_KEY`` (a personal access token, or a legacy
token where the organization allows them); it is never stored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from workbench.annotation import lsjson
from workbench.annotation.bundle import ZipLimits
from workbench.annotation.config import PackageConfig, PushConfig
from workbench.annotation.importer import import_annotations
from workbench.annotation.manifest import MANIFEST, Manifest
from workbench.annotation.package import (
    new_manifest,
    package_images,
    pre_annotations,
    resolve_match,
)
from workbench.annotation.results import ImportResult, PushResult
from workbench.errors import ConfigError, WorkbenchError
from workbench.store import annotating, runs
from workbench.store.runs import RunKind
from workbench.store.workspace import Workspace

KEY_ENV = "LABEL_STUDIO_API_KEY"
URL_ENV = "LABEL_STUDIO_URL"
DEFAULT_URL = "http://127.0.0.1:8080"
PUSH_KIND = RunKind.ANNOTATE_PUSH
_UPLOAD_BATCH = 50
_TIMEOUT = 120


class LabelStudioError(WorkbenchError):
    """The Label Studio server refused a request or could not be reached."""


class Client:
    """A minimal Label Studio REST client (``requests``), authenticated by token."""

    def __init__(self, url: str | None = None, key: str | None = None) -> None:
        import requests

        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        key = key or os.environ.get(KEY_ENV)
        if not key:
            raise ConfigError(f"set {KEY_ENV} to a Label Studio access token (Label Studio: "
                              "Account & Settings > Personal Access Token); it is read from "
                              "the environment only")
        self.http = requests.Session()
        if key.count(".") == 2:  # a JWT personal access token: trade it for an access token
            access = self._call("POST", "/api/token/refresh/", json={"refresh": key})["access"]
            self.http.headers["Authorization"] = f"Bearer {access}"
        else:
            self.http.headers["Authorization"] = f"Token {key}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        try:
            resp = self.http.request(method, self.url + path, timeout=_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url} ({exc}); is the "
                                   f"server running? (--url or {URL_ENV})") from exc
        if resp.status_code == 401:
            raise LabelStudioError(f"Label Studio at {self.url} refused the token in {KEY_ENV} "
                                   f"(401: {resp.text[:200]}); create a new personal access "
                                   "token")
        if resp.status_code >= 400:
            raise LabelStudioError(f"Label Studio {method} {path} failed with "
                                   f"{resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def projects(self) -> list[dict[str, Any]]:
        """All projects visible to the token."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            doc = self._call("GET", "/api/projects", params={"page": page, "page_size": 100})
            items = doc["results"] if isinstance(doc, dict) else doc
            found.extend(items)
            if not isinstance(doc, dict) or not doc.get("next"):
                return found
            page += 1

    def project_by_title(self, title: str) -> dict[str, Any] | None:
        """The project called ``title``, or None."""
        return next((p for p in self.projects() if p.get("title") == title), None)

    def create_project(self, title: str, label_config: str, description: str) -> dict[str, Any]:
        """Create a project."""
        doc: dict[str, Any] = self._call("POST", "/api/projects", json={
            "title": title, "label_config": label_config, "description": description})
        return doc

    def update_config(self, project: int, label_config: str) -> None:
        """Replace a project's labeling config."""
        self._call("PATCH", f"/api/projects/{project}", json={"label_config": label_config})

    def upload(self, project: int, files: list[tuple[str, bytes]]) -> dict[str, str]:
        """Upload image files without creating tasks; returns file name -> served URL."""
        urls: dict[str, str] = {}
        for start in range(0, len(files), _UPLOAD_BATCH):
            part = files[start:start + _UPLOAD_BATCH]
            doc = self._call("POST", f"/api/projects/{project}/import",
                             params={"commit_to_project": "false"},
                             files=[(name, (name, data)) for name, data in part])
            ids = doc.get("file_upload_ids") or []
            listed = self._call("GET", f"/api/projects/{project}/file-uploads",
                                params={"ids": json.dumps(ids)})
            for item in listed:
                stored = str(item["file"])
                original = stored.rsplit("/", 1)[-1].split("-", 1)[-1]
                urls[original] = "/data/" + stored.lstrip("/")
        return urls

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> int:
        """Create tasks (with their predictions); returns how many."""
        doc = self._call("POST", f"/api/projects/{project}/import", json=tasks)
        return int(doc.get("task_count", 0))

    def export_tasks(self, project: int) -> list[dict[str, Any]]:
        """Every task of a project with its annotations and predictions."""
        doc: list[dict[str, Any]] = self._call(
            "GET", f"/api/projects/{project}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"})
        return doc


def _task_sample_ids(tasks: list[dict[str, Any]]) -> set[str]:
    return {str(t.get("data", {}).get("sample_id")) for t in tasks
            if t.get("data", {}).get("sample_id")}


def push(ws: Workspace, cfg: PushConfig, client: Client | None = None) -> PushResult:
    """Create or update the project and upload the round's images as tasks.

    Images already in the project (by sample id) are not uploaded again; the labeling config
    is replaced when the class list changed.
    """
    started = dt.datetime.now(dt.UTC)
    client = client or Client(cfg.url)
    title = cfg.project or ws.config.name
    match, round_name = resolve_match(ws, PackageConfig(Path("."), cfg.round, cfg.view))
    images, paths, ids = package_images(ws, match)
    if not images:
        raise ConfigError(f"nothing to push: no samples match {cfg.view or round_name!r}")
    config = lsjson.label_config(ws.classes)
    project = client.project_by_title(title)
    if project is None:
        project = client.create_project(
            title, config, f"workbench dataset {ws.config.name}; classes {', '.join(ws.classes)}")
    elif project.get("label_config") != config:
        client.update_config(int(project["id"]), config)
    pid = int(project["id"])
    previous = latest_push(ws, client.url, title)
    known = _task_sample_ids(client.export_tasks(pid))
    todo = [k for k, im in enumerate(images) if im.sample_id not in known]
    if todo:
        urls = client.upload(pid, [(images[k].file_name, Path(paths[k]).read_bytes())
                                   for k in todo])
        if cfg.pre_annotations:
            _, tasks = pre_annotations(ws, cfg.pre_annotations, match, images, "",
                                       cfg.pre_annotation_conf)
        else:
            tasks = [lsjson.task("", im.sample_id, im.file_name, None) for im in images]
        new_tasks = []
        for k in todo:
            task = tasks[k]
            task["data"]["image"] = urls[images[k].file_name]
            new_tasks.append(task)
        client.import_tasks(pid, new_tasks)
        annotating.mark_in_annotation(ws, [ids[k] for k in todo])
    all_images = list(images)
    if previous is not None:
        old = Manifest.from_dict(previous["outputs"]["manifest"], "push record")
        mine = {im.sample_id for im in images}
        all_images = [im for im in old.images if im.sample_id not in mine] + all_images
    push_id = runs.new_run_id("push")
    manifest = new_manifest(ws, push_id, round_name, cfg.view, cfg.pre_annotations, all_images,
                            started)
    result = PushResult(push_id=push_id, project_id=pid, project=title, url=client.url,
                        tasks_created=len(todo), already_in_project=len(images) - len(todo),
                        round=round_name, project_url=f"{client.url}/projects/{pid}/data")
    outputs = {k: v for k, v in result.to_dict().items() if k != "push_id"}
    runs.record_run(ws, PUSH_KIND, push_id,
                    {"url": client.url, "project": title, "round": round_name, "view": cfg.view,
                     "pre_annotations": cfg.pre_annotations},
                    {**outputs, "manifest": manifest.to_dict()}, started)
    return result


def latest_push(ws: Workspace, url: str, title: str) -> dict[str, Any] | None:
    """The latest push record for a server and project title."""
    return annotating.latest_push(ws, url, title)


def pull(ws: Workspace, project: str | None = None, url: str | None = None,
         dry_run: bool = False, client: Client | None = None,
         limits: ZipLimits | None = None) -> ImportResult:
    """Fetch the project's submitted annotations and import them (validated, undoable)."""
    client = client or Client(url)
    title = project or ws.config.name
    record = latest_push(ws, client.url, title)
    if record is None:
        raise ConfigError(f"nothing was pushed to project {title!r} at {client.url} from this "
                          "workspace; run `workbench annotate push` first")
    found = client.project_by_title(title)
    if found is None:
        raise LabelStudioError(f"project {title!r} no longer exists at {client.url}")
    tasks = client.export_tasks(int(found["id"]))
    with tempfile.TemporaryDirectory(prefix="workbench-ls-") as tmp:
        folder = Path(tmp)
        (folder / MANIFEST).write_text(json.dumps(record["outputs"]["manifest"]))
        (folder / "annotations.labelstudio.json").write_text(json.dumps(tasks))
        return import_annotations(ws, folder, "labelstudio", dry_run=dry_run, limits=limits,
                                  source=f"labelstudio:{client.url}/projects/{found['id']}")
