"""A local HTTP server in the shape of FathomNet's REST API, serving real demo images.

Endpoints (under ``/api``, as ``fathomnet-py`` calls them):

* ``GET boundingboxes/list/concepts`` -> ``["concept", ...]``
* ``GET taxa/query/{provider}/{concept}`` -> ``[{"name": ..., "rank": ...}, ...]``
* ``POST images/query`` (a ``GeoImageConstraints`` body: ``concept``, ``limit``, ``offset``)
  -> ``[AImageDTO, ...]`` with ``boundingBoxes`` in pixels (``x, y, width, height``)
* ``GET /static/<name>`` -> image bytes

Faults are scripted per path: ``server.faults[path] = ["sleep:1.5", "500", "truncate", "404",
"corrupt"]`` are consumed one request at a time; ``server.always[path]`` applies to every
request. ``server.latency`` delays each image response; ``server.requests`` counts requests
per path. Used by the download and FathomNet tests and by ``benchmarks/bench_fathomnet.py``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image

#: Demo class id -> the FathomNet concept the fake catalog calls it.
DEMO_CONCEPTS = ["Sebastes", "Aurelia aurita", "Spheniscidae", "Fratercula", "Selachimorpha",
                 "Asteroidea", "Myliobatiformes"]


def box_dict(concept: str, x: int, y: int, w: int, h: int, rejected: bool = False
         ) -> dict[str, Any]:
    return {"id": 1, "uuid": str(uuid.uuid4()), "userDefinedKey": None, "concept": concept,
            "altConcept": None, "groupOf": False, "height": h, "occluded": False,
            "observer": "tester", "truncated": False, "width": w, "x": x, "y": y,
            "rejected": rejected, "reviewState": None, "reviewer": None,
            "lastReviewedTimestamp": None, "createdTimestamp": "2021-01-01T00:00:00.000Z",
            "lastUpdatedTimestamp": "2021-01-01T00:00:00.000Z"}


def image_record(path: Path, index: int, concepts: list[str] = DEMO_CONCEPTS
                 ) -> dict[str, Any]:
    """An ``AImageDTO`` dict for a demo image, with its YOLO boxes in pixels (url: filled in
    by :class:`FathomNetServer`)."""
    with Image.open(path) as im:
        width, height = im.size
    boxes = []
    label = path.parent.parent / "labels" / f"{path.stem}.txt"
    for line in (label.read_text().splitlines() if label.exists() else []):
        if not line.strip():
            continue
        c, cx, cy, w, h = line.split()
        pw, ph = round(float(w) * width), round(float(h) * height)
        boxes.append(box_dict(concepts[int(c)], round(float(cx) * width - pw / 2),
                          round(float(cy) * height - ph / 2), pw, ph))
    return {"id": 1000 + index, "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, path.name)),
            "url": f"/static/{path.name}", "valid": True, "imagingType": "ROV",
            "depthMeters": 812.5, "height": height, "lastValidation": None, "latitude": 36.7,
            "longitude": -122.0, "altitude": None, "salinity": None, "temperatureCelsius": 4.1,
            "oxygenMlL": None, "pressureDbar": None, "mediaType": "image", "modified": None,
            "sha256": None, "contributorsEmail": "tester@example.org", "tags": [],
            "timestamp": "2020-06-01T12:00:00.000Z", "width": width, "boundingBoxes": boxes,
            "createdTimestamp": "2021-01-01T00:00:00.000Z",
            "lastUpdatedTimestamp": "2021-01-01T00:00:00.000Z"}


class FathomNetServer:
    """The fake FathomNet on ``127.0.0.1`` (a free port), in a background thread.

    Args:
        images: image files served under ``/static/<name>``.
        records: ``AImageDTO`` dicts (``url`` relative, made absolute here); default: one per
            image from :func:`image_record`.
        concepts: the concept list (default: every concept of the records' boxes).
        taxa: concept -> descendant names (each including the concept itself).
    """

    def __init__(self, images: list[Path], records: list[dict[str, Any]] | None = None,
                 concepts: list[str] | None = None,
                 taxa: dict[str, list[str]] | None = None) -> None:
        self.files = {f"/static/{p.name}": p.read_bytes() for p in images}
        self.records = records if records is not None else [
            image_record(p, i) for i, p in enumerate(images)]
        self.concepts = concepts if concepts is not None else sorted(
            {b["concept"] for r in self.records for b in r["boundingBoxes"]})
        self.taxa = taxa or {}
        self.faults: dict[str, list[str]] = {}
        self.always: dict[str, str] = {}
        self.latency = 0.0
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.api = f"{self.base}/api"
        for r in self.records:
            if r.get("url", "").startswith("/"):
                r["url"] = self.base + r["url"]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> FathomNetServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, name: str) -> str:
        """The absolute URL of ``/static/<name>``."""
        return f"{self.base}/static/{name}"

    def static_requests(self) -> int:
        """Image requests served so far."""
        return sum(n for p, n in self.requests.items() if p.startswith("/static/"))

    def next_fault(self, path: str) -> str | None:
        with self._lock:
            self.requests[path] += 1
            queue = self.faults.get(path)
            if queue:
                return queue.pop(0)
            return self.always.get(path)

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """``(status, JSON value)`` of an API request."""
        parts = [unquote(p) for p in path.split("/")[2:]]
        if method == "GET" and parts == ["boundingboxes", "list", "concepts"]:
            return 200, self.concepts
        if method == "GET" and parts[:2] == ["taxa", "query"] and len(parts) == 4:
            if parts[2] != "fathomnet":
                return 404, {"message": f"unknown provider {parts[2]}"}
            names = self.taxa.get(parts[3], [parts[3]] if parts[3] in self.concepts else [])
            return 200, [{"name": n, "rank": "species"} for n in names]
        if method == "POST" and parts == ["images", "query"]:
            query = json.loads(body or b"{}")
            hits = [r for r in self.records
                    if any(b["concept"] == query.get("concept") for b in r["boundingBoxes"])]
            offset = query.get("offset") or 0
            limit = query.get("limit")
            return 200, hits[offset:offset + limit if limit else None]
        return 404, {"message": f"no route {method} {path}"}


def _handler(server: FathomNetServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # headers and body go out in two writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str, length: int | None = None
                  ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def _api(self, method: str) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else b""
            path = urlparse(self.path).path
            fault = server.next_fault(path)
            try:
                if fault and fault.startswith("sleep:"):
                    time.sleep(float(fault.split(":", 1)[1]))
                if fault in ("500", "404"):
                    self._send(int(fault), b'{"message": "scripted failure"}',
                               "application/json")
                    return
                status, value = server.answer(method, path, body)
                self._send(status, json.dumps(value).encode(), "application/json")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_POST(self) -> None:
            self._api("POST")

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path.startswith("/api/"):
                self._api("GET")
                return
            fault = server.next_fault(path)
            try:
                if server.latency:
                    time.sleep(server.latency)
                data = server.files.get(path)
                if fault and fault.startswith("sleep:"):
                    time.sleep(float(fault.split(":", 1)[1]))
                    fault = None
                if data is None or fault == "404":
                    self._send(404, b"not found", "text/plain")
                elif fault == "500":
                    self._send(503, b"busy", "text/plain")
                elif fault == "truncate":     # promises the whole file, sends half, hangs up
                    self.close_connection = True
                    self._send(200, data[:len(data) // 2], "image/jpeg", length=len(data))
                elif fault == "corrupt":      # a damaged file on the server: complete answer
                    self._send(200, data[:len(data) // 2], "image/jpeg")
                else:
                    self._send(200, data, "image/jpeg")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
