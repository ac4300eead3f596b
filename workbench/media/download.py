"""Download image URLs into a content-addressed cache, in parallel and resumably.

Each image lands once as ``CACHE/<sha[:2]>/<sha>.<ext>`` (written to a temporary name, then
renamed, so a killed run never leaves a half file under a real name). ``CACHE/index.jsonl``
maps each URL fetched to its hash, one JSON line per URL, appended by the calling thread as
downloads finish: a second run (or one after an interruption) fetches only the URLs the index
does not list or whose file has gone.

Timeouts, connection errors, truncated bodies and HTTP 5xx / 408 / 429 are retried with
exponential backoff (``backoff * 2**attempt`` seconds); other 4xx answers are final. Bytes
that are not a complete, decodable image (see :func:`workbench.media.probe.probe_bytes`) are
an error, not a cached file.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from workbench.media.probe import probe_bytes

__all__ = ["INDEX_NAME", "Result", "download", "read_index"]

INDEX_NAME = "index.jsonl"
#: HTTP statuses worth another try (besides every 5xx).
RETRY_STATUS = frozenset({408, 429})
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp", "image/webp": ".webp",
        "image/tiff": ".tif", "image/gif": ".gif"}
_FINAL_EXCEPTIONS = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                     requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Result:
    """What became of one URL.

    Attributes:
        url: the URL asked for.
        path: the cached file, or None when the download failed.
        sha256: hex digest of its bytes ("" when failed).
        error: why it failed (after the retries), or None.
        cached: True when the index had it already (nothing was fetched).
        attempts: HTTP requests made for it (0 when cached).
        size_bytes: file size; ``width``/``height``: displayed pixel size (0 when cached:
            the file was not read again).
    """

    url: str
    path: Path | None
    sha256: str
    error: str | None = None
    cached: bool = False
    attempts: int = 0
    size_bytes: int = 0
    width: int = 0
    height: int = 0


class _Retry(Exception):
    """A failure worth another attempt."""


class _Final(Exception):
    """A failure no retry will fix."""


def read_index(cache_dir: Path) -> dict[str, Path]:
    """URL -> cached file, for the index entries whose file still exists.

    Lines that are not valid JSON (a run killed mid-write) are ignored; a later line for the
    same URL wins.
    """
    index = cache_dir / INDEX_NAME
    found: dict[str, Path] = {}
    try:
        text = index.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            url, rel = str(entry["url"]), str(entry["path"])
        except (ValueError, KeyError, TypeError):
            continue
        found[url] = cache_dir / rel
    return {url: path for url, path in found.items() if path.is_file()}


def download(urls: Iterable[str], cache_dir: Path, workers: int = 8, retries: int = 4,
             backoff: float = 0.5, timeout: float = 30, progress: Progress | None = None
             ) -> list[Result]:
    """Fetch ``urls`` into ``cache_dir`` (see the module docstring).

    Args:
        urls: image URLs; duplicates are fetched once.
        cache_dir: the cache folder (created).
        workers: parallel downloads (a bounded thread pool; at most ``2 * workers`` URLs are
            in flight at once).
        retries: further attempts after a retryable failure.
        backoff: seconds before the first retry, doubled for each next one.
        timeout: seconds to wait for the connection and for each read.
        progress: called as ``progress(done, total)`` from the calling thread.

    Returns:
        One :class:`Result` per URL given, in order.
    """
    urls = list(urls)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    known = read_index(cache_dir)
    unique = list(dict.fromkeys(urls))
    done: dict[str, Result] = {}
    for url in unique:
        if url in known:
            path = known[url]
            done[url] = Result(url, path, path.stem, cached=True,
                               size_bytes=path.stat().st_size)
    todo = [u for u in unique if u not in done]
    total = len(unique)
    if progress:
        progress(len(done), total)
    if todo:
        local = threading.local()

        def fetch(url: str) -> Result:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            return _fetch(session, url, cache_dir, retries, backoff, timeout)

        with open(cache_dir / INDEX_NAME, "a", encoding="utf-8") as index, \
                ThreadPoolExecutor(max_workers=max(1, workers),
                                   thread_name_prefix="download") as pool:
            pending: set[Future[Result]] = set()
            queue = iter(todo)
            try:
                while True:
                    for url in queue:
                        pending.add(pool.submit(fetch, url))
                        if len(pending) >= 2 * max(1, workers):
                            break
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        res = fut.result()
                        done[res.url] = res
                        if res.path is not None:
                            rel = res.path.relative_to(cache_dir).as_posix()
                            index.write(json.dumps({"url": res.url, "sha256": res.sha256,
                                                    "path": rel}) + "\n")
                            index.flush()
                    if progress:
                        progress(len(done), total)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    return [done[u] for u in urls]


def _fetch(session: requests.Session, url: str, cache_dir: Path, retries: int, backoff: float,
           timeout: float) -> Result:
    """Download one URL with retries; never raises."""
    attempt = 0
    while True:
        attempt += 1
        try:
            data = _get(session, url, timeout)
            return _store(url, data, cache_dir, attempt)
        except _Final as exc:
            return Result(url, None, "", f"{exc}", attempts=attempt)
        except _Retry as exc:
            if attempt > retries:
                return Result(url, None, "", f"{exc} (gave up after {attempt} attempts)",
                              attempts=attempt)
            time.sleep(backoff * 2 ** (attempt - 1))


def _get(session: requests.Session, url: str, timeout: float) -> bytes:
    """The body of ``url``; raises :class:`_Retry` or :class:`_Final`."""
    try:
        with session.get(url, timeout=timeout, stream=True) as resp:
            status = resp.status_code
            if status >= 500 or status in RETRY_STATUS:
                raise _Retry(f"HTTP {status} {resp.reason}")
            if status >= 400:
                raise _Final(f"HTTP {status} {resp.reason}: the server refuses this URL; "
                             "check it is still published")
            data = resp.content
            expected = resp.headers.get("Content-Length")
            encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
            if expected is not None and not encoded and expected.isdigit() \
                    and len(data) != int(expected):
                raise _Retry(f"truncated body: got {len(data)} of {expected} bytes")
            return data
    except requests.exceptions.Timeout as exc:
        raise _Retry(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
    except _FINAL_EXCEPTIONS as exc:
        raise _Final(f"bad URL: {exc}") from exc
    except (requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError) as exc:
        raise _Retry(f"truncated body: {_reason(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise _Retry(f"connection failed: {_reason(exc)}") from exc


def _store(url: str, data: bytes, cache_dir: Path, attempts: int) -> Result:
    """Check ``data`` is an image and write it under its hash."""
    info = probe_bytes(data)
    if info.error:
        raise _Final(f"not a complete image ({info.error}); the file on the server is damaged "
                     "or not an image")
    ext = _EXT.get(info.mime_type, ".img")
    path = cache_dir / info.sha256[:2] / f"{info.sha256}{ext}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _Final(f"cannot write {path}: {exc.strerror or exc}") from exc
    return Result(url, path, info.sha256, attempts=attempts, size_bytes=len(data),
                  width=info.width, height=info.height)


def _reason(exc: Any) -> str:
    """The innermost message of a requests/urllib3 exception chain, shortened."""
    text = str(exc.args[0]) if exc.args else str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
