"""The content-addressed downloader against a real local HTTP server serving demo images."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_images
from tests.media.fathomnet_server import FathomNetServer
from workbench.media.download import INDEX_NAME, Result, download, read_index


def fetch(urls: list[str], cache: Path, **kw: Any) -> list[Result]:
    """``download`` with quick retries."""
    return download(urls, cache, retries=3, backoff=0.01, timeout=2.0, **kw)


@pytest.fixture
def server() -> Iterator[FathomNetServer]:
    with FathomNetServer(demo_images("train", 6)) as srv:
        yield srv


def _names(srv: FathomNetServer) -> list[str]:
    return [p.rsplit("/", 1)[1] for p in srv.files]


def test_downloads_into_content_addressed_cache(server: FathomNetServer, tmp_path: Path) -> None:
    names = _names(server)
    urls = [server.url(n) for n in names]
    seen: list[tuple[int, int]] = []
    results = fetch([*urls, urls[0]], tmp_path, workers=4,
                    progress=lambda d, t: seen.append((d, t)))
    assert [r.url for r in results] == [*urls, urls[0]]
    assert all(r.error is None and r.path is not None for r in results)
    for name, res in zip(names, results, strict=False):
        data = server.files[f"/static/{name}"]
        sha = hashlib.sha256(data).hexdigest()
        assert res.sha256 == sha and res.path == tmp_path / sha[:2] / f"{sha}.jpg"
        assert res.path.read_bytes() == data and res.width > 0 and res.height > 0
    assert server.static_requests() == len(names)          # the duplicate URL fetched once
    assert seen[-1] == (len(names), len(names))
    lines = [json.loads(x) for x in (tmp_path / INDEX_NAME).read_text().splitlines()]
    assert {x["url"] for x in lines} == set(urls)
    assert not list(tmp_path.rglob("*.tmp"))


def test_second_run_fetches_nothing(server: FathomNetServer, tmp_path: Path) -> None:
    urls = [server.url(n) for n in _names(server)]
    first = fetch(urls[:3], tmp_path)            # an interrupted first run
    assert server.static_requests() == 3
    again = fetch(urls, tmp_path)
    assert server.static_requests() == len(urls)            # only the 3 missing ones
    assert [r.cached for r in again] == [True] * 3 + [False] * (len(urls) - 3)
    assert [r.path for r in again[:3]] == [r.path for r in first]
    third = fetch(urls, tmp_path)
    assert server.static_requests() == len(urls) and all(r.cached for r in third)
    assert third[0].sha256 == first[0].sha256


def test_missing_cached_file_is_fetched_again(server: FathomNetServer, tmp_path: Path) -> None:
    url = server.url(_names(server)[0])
    res = fetch([url], tmp_path)[0]
    assert res.path is not None
    res.path.unlink()
    with open(tmp_path / INDEX_NAME, "a") as f:
        f.write('{"url": "half a line')                    # a run killed mid-write
    assert read_index(tmp_path) == {}
    again = fetch([url], tmp_path)[0]
    assert not again.cached and again.path == res.path and res.path.is_file()
    assert server.static_requests() == 2


@pytest.mark.parametrize(("faults", "attempts"), [
    (["sleep:1.0"], 2),                  # the server answers after the timeout, once
    (["500", "500"], 3),                 # 5xx then success
    (["truncate"], 2),                   # Content-Length promised, body cut short, once
])
def test_transient_failures_are_retried(server: FathomNetServer, tmp_path: Path,
                                        faults: list[str], attempts: int) -> None:
    name = _names(server)[0]
    server.faults[f"/static/{name}"] = list(faults)
    res = download([server.url(name)], tmp_path, retries=3, backoff=0.01, timeout=0.3)[0]
    assert res.error is None and res.attempts == attempts
    assert res.path is not None and res.path.read_bytes() == server.files[f"/static/{name}"]


@pytest.mark.parametrize(("fault", "message", "requests"), [
    ("sleep:0.6", "timed out after 0.2 s", 3),
    ("500", "HTTP 503", 3),
    ("truncate", "truncated body", 3),
    ("404", "HTTP 404", 1),              # 4xx is final: no retry
    ("corrupt", "not a complete image", 1),
])
def test_persistent_failures_are_reported(server: FathomNetServer, tmp_path: Path, fault: str,
                                          message: str, requests: int) -> None:
    name = _names(server)[0]
    server.always[f"/static/{name}"] = fault
    res = download([server.url(name), server.url(_names(server)[1])], tmp_path, retries=2,
                   backoff=0.01, timeout=0.2)
    assert res[0].path is None and message in (res[0].error or "")
    assert res[0].attempts == requests and server.requests[f"/static/{name}"] == requests
    assert res[1].error is None                              # the others still arrive
    assert list(read_index(tmp_path)) == [res[1].url]       # failures are not indexed
    assert not list(tmp_path.rglob("*.tmp"))


def test_backoff_doubles(server: FathomNetServer, tmp_path: Path) -> None:
    name = _names(server)[0]
    server.always[f"/static/{name}"] = "500"
    started = time.perf_counter()
    res = download([server.url(name)], tmp_path, retries=3, backoff=0.05, timeout=2)[0]
    assert res.attempts == 4 and time.perf_counter() - started >= 0.05 + 0.1 + 0.2


def test_unreachable_and_bad_urls(tmp_path: Path) -> None:
    res = download(["http://127.0.0.1:9/x.jpg", "not a url"], tmp_path, retries=1,
                   backoff=0.01, timeout=1)
    assert "connection failed" in (res[0].error or "") and res[0].attempts == 2
    assert "bad URL" in (res[1].error or "") and res[1].attempts == 1
