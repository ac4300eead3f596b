"""``fathomnet:CONCEPT[,CONCEPT...]``: images and boxes from FathomNet, through its client.

Each concept is checked against FathomNet's concept list (a name it does not know is an error
suggesting close ones; a different capitalisation is accepted); ``taxa_descendants`` adds the
concept's descendants from the taxa endpoint. Image records are fetched by concept (paged,
``limit`` images in all, shared round-robin between the concepts), their images downloaded
once into a content-addressed cache (:mod:`workbench.media.download`; ``cache`` or the
workspace's ``media/fathomnet/``), and each becomes a labeled :class:`ImageRecord` whose
``source_id`` is FathomNet's image UUID. Only boxes of the requested concepts (or their
descendants) are kept, renamed through ``class_map``; rejected boxes are left out.

The FathomNet API base URL is the client's own (``FATHOMNET_API_URL``, read when the
``fathomnet`` package is imported) unless ``WORKBENCH_FATHOMNET_URL`` is set, which this module
applies for the duration of each ingest.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from workbench.errors import SourceError
from workbench.ingestion.sources.class_map import load_class_map
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions
from workbench.optional import require

__all__ = ["EXTRA_FIELDS", "URL_ENV", "parse"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Environment variable overriding the FathomNet API base URL (e.g. a mirror or a test server).
URL_ENV = "WORKBENCH_FATHOMNET_URL"
#: Taxa provider the descendants come from.
TAXA_PROVIDER = "fathomnet"
#: FathomNet's data use policy, the license of every image it serves.
LICENSE = "FathomNet Data Use Policy (https://fathomnet.org/fathomnet/#/license)"
PAGE_SIZE = 100
#: Seconds an API request may take; API calls failing with a timeout, a connection error
#: or a 5xx are tried ``API_RETRIES`` more times.
API_TIMEOUT = 60.0
API_RETRIES = 3
API_BACKOFF = 1.0
#: Downloads: parallel workers, retries, seconds per request.
WORKERS = 8
RETRIES = 4
BACKOFF = 0.5
TIMEOUT = 30.0

EXTRA_FIELDS = {"fathomnet_uuid": "string", "license": "string", "attribution": "string",
                "source_url": "string"}


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Fetch the concepts named in ``options.spec`` (see the module docstring).

    Args:
        path: the spec as a path (used when ``options.spec`` is None).
        options: ``spec`` "CONCEPT[,CONCEPT...]"; ``params`` may hold ``limit``,
            ``class_map``, ``cache``, ``taxa_descendants``, ``bbox_only``.

    Raises:
        SourceError: no concept given, a concept FathomNet does not know, no images for any
            concept, FathomNet unreachable or answering with an error.
    """
    require("fathomnet", "sources", what="ingest fathomnet:")
    from fathomnet.api import boundingboxes, images, taxa
    from fathomnet.dto import GeoImageConstraints

    spec = options.spec if options.spec is not None else str(path)
    requested = list(dict.fromkeys(c.strip() for c in spec.split(",") if c.strip()))
    if not requested:
        raise SourceError(f"fathomnet:{spec}: no concept given; write fathomnet:CONCEPT"
                          "[,CONCEPT...], e.g. fathomnet:'Aurelia aurita,Nanomia'")
    params = options.params
    limit: int | None = params.get("limit")
    mapping = load_class_map(params.get("class_map"))
    cache = _cache_dir(params.get("cache"), options.workspace_root)
    with _client() as base_url:
        where = f"FathomNet at {base_url}"
        known = _api(boundingboxes.find_concepts, where, "list the concepts")
        requested = _resolve(requested, known, where)
        lookup = {k.casefold(): k for k in known}
        groups: dict[str, list[str]] = {}
        for concept in requested:
            names = [concept]
            if params.get("taxa_descendants"):
                found = _api(partial(taxa.find_taxa, TAXA_PROVIDER, concept), where,
                             f"find the descendants of {concept!r}")
                names += [t.name for t in found if t.name]
            groups[concept] = list(dict.fromkeys(lookup[n.casefold()] for n in names
                                                 if n.casefold() in lookup))
        wanted = {n for names in groups.values() for n in names}
        bbox_only = bool(params.get("bbox_only"))
        per_group: dict[str, list[Any]] = {}
        for concept, names in groups.items():
            per_group[concept] = []
            for name in names:
                want = None if limit is None else limit - len(per_group[concept])
                if want is not None and want <= 0:
                    break
                per_group[concept] += _fetch_images(images.find, GeoImageConstraints, name,
                                                    want, wanted, bbox_only, where)
    batch = SourceBatch(extra_fields=dict(EXTRA_FIELDS))
    empty = [c for c, found in per_group.items() if not found]
    if len(empty) == len(per_group):
        raise SourceError(_no_images(empty, groups, bbox_only, where))
    for concept in empty:
        batch.warn("concept-without-images", f"fathomnet:{concept}",
                   _no_images([concept], groups, bbox_only, where) + "; the others are ingested")
    selected = _round_robin(per_group, limit)
    _build(batch, selected, wanted, mapping, cache, options.progress)
    present = set(batch.boxes.label)
    batch.class_names = [n for n in dict.fromkeys(mapping.get(n, n) for c in requested
                                                  for n in groups[c]) if n in present]
    return batch


def _no_images(concepts: list[str], groups: dict[str, list[str]], bbox_only: bool,
               where: str) -> str:
    """Why ``concepts`` gave nothing, and what to try."""
    names = ", ".join(repr(c) for c in concepts)
    searched = sorted({n for c in concepts for n in groups[c]})
    also = f" (searched {', '.join(searched)})" if len(searched) > len(concepts) else ""
    what = "images with a box of" if bbox_only else "images of"
    return (f"{where}: no {what} concept {names}{also}; FathomNet knows the name but has no "
            "such images: try a broader concept, or --taxa-descendants to include the "
            "concept's descendants")


def _cache_dir(cache: Any, workspace_root: Path | None) -> Path:
    if cache:
        return Path(cache).expanduser().resolve()
    if workspace_root is None:
        raise SourceError("fathomnet ingest needs a workspace or --cache DIR to keep the "
                          "downloaded images in")
    return workspace_root / "media" / "fathomnet"


@contextlib.contextmanager
def _client() -> Iterator[str]:
    """Point the client at ``WORKBENCH_FATHOMNET_URL`` (if set) and give its requests a
    timeout; both are undone on exit. Yields the base URL in use."""
    import requests
    from fathomnet import api

    old_root = api.EndpointManager.ROOT
    old_adapters = dict(api.SESSION.adapters)
    url = os.environ.get(URL_ENV, "").strip().rstrip("/")
    if url:
        api.EndpointManager.ROOT = url

    class TimeoutAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, stream: bool = False,
                 timeout: float | tuple[float | None, float | None] | None = None,
                 verify: bool | str = True, cert: str | tuple[str, str] | None = None,
                 proxies: dict[str, str] | None = None) -> requests.Response:
            return super().send(request, stream=stream,
                                timeout=API_TIMEOUT if timeout is None else timeout,
                                verify=verify, cert=cert, proxies=proxies)

    for prefix in ("http://", "https://"):
        api.SESSION.mount(prefix, TimeoutAdapter())
    try:
        yield api.EndpointManager.ROOT
    finally:
        api.EndpointManager.ROOT = old_root
        api.SESSION.adapters.clear()
        api.SESSION.adapters.update(old_adapters)


def _api(call: Callable[[], T], where: str, what: str) -> T:
    """Run one client call; retry transient failures; turn the rest into a SourceError."""
    import requests

    for attempt in range(API_RETRIES + 1):
        try:
            return call()
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            problem = f"cannot reach it ({type(exc).__name__})"
            transient = True
        except ValueError as exc:  # the client's way of reporting HTTP errors
            first = str(exc).split("\n", 1)[0].split(", please")[0]
            problem = first if len(first) < 200 else first[:197] + "..."
            transient = first.startswith("Server error")
        if not transient or attempt == API_RETRIES:
            raise SourceError(
                f"{where}: could not {what}: {problem}; check the network and the URL "
                f"(set {URL_ENV} to use another server), then retry")
        time.sleep(API_BACKOFF * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _resolve(requested: list[str], known: list[str], where: str) -> list[str]:
    """The canonical names of ``requested``; unknown names raise, with suggestions."""
    exact = set(known)
    folded: dict[str, list[str]] = {}
    for k in known:
        folded.setdefault(k.casefold(), []).append(k)
    out: list[str] = []
    problems: list[str] = []
    for c in requested:
        if c in exact:
            out.append(c)
        elif len(folded.get(c.casefold(), [])) == 1:
            out.append(folded[c.casefold()][0])
        else:
            close = difflib.get_close_matches(c, known, n=5, cutoff=0.6)
            close += [k for k in known if c.casefold() in k.casefold() and k not in close]
            hint = (f"did you mean {', '.join(repr(k) for k in close[:5])}?" if close
                    else "no close name found")
            problems.append(f"unknown concept {c!r} ({hint})")
    if problems:
        raise SourceError(f"{where}: {'; '.join(problems)}. FathomNet knows {len(known)} "
                          "concepts (browse them at https://fathomnet.org); concept names are "
                          "scientific names such as 'Aurelia aurita'")
    return list(dict.fromkeys(out))


def _fetch_images(find: Callable[[Any], list[Any]], constraints: Any, concept: str,
                  want: int | None, wanted: set[str], bbox_only: bool, where: str) -> list[Any]:
    """Up to ``want`` image records of ``concept`` (all when None), paged."""
    found: list[Any] = []
    offset = 0
    while want is None or len(found) < want:
        query = constraints(concept=concept, limit=PAGE_SIZE, offset=offset)
        page = _api(partial(find, query), where, f"fetch the images of {concept!r}")
        for image in page:
            if bbox_only and not any(_usable(b, wanted) for b in image.boundingBoxes or ()):
                continue
            found.append(image)
        if len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    return found if want is None else found[:want]


def _usable(box: Any, wanted: set[str]) -> bool:
    return box.concept in wanted and not box.rejected


def _round_robin(per_group: dict[str, list[Any]], limit: int | None) -> list[Any]:
    """Images from each concept in turn, each UUID once, at most ``limit``."""
    out: list[Any] = []
    seen: set[str] = set()
    queues = [list(v) for v in per_group.values()]
    depth = max((len(q) for q in queues), default=0)
    for i in range(depth):
        for q in queues:
            if i < len(q):
                key = q[i].uuid or q[i].url or str(id(q[i]))
                if key not in seen:
                    seen.add(key)
                    out.append(q[i])
                    if limit is not None and len(out) >= limit:
                        return out
    return out


def _build(batch: SourceBatch, selected: list[Any], wanted: set[str], mapping: dict[str, str],
           cache: Path, report: Callable[[str, int, int], None] | None = None) -> None:
    """Download the selected images (``report("downloading", done, total)`` as they come)
    and turn them into records and boxes."""
    from workbench.media.download import download  # requests: not at CLI start-up

    no_url = [im for im in selected if not im.url]
    for im in no_url:
        batch.drop("no-image-url", f"fathomnet:{im.uuid}", "FathomNet lists no URL for this "
                   "image; it cannot be downloaded")
    selected = [im for im in selected if im.url]
    started = time.perf_counter()
    results = download([im.url for im in selected], cache, workers=WORKERS, retries=RETRIES,
                       backoff=BACKOFF, timeout=TIMEOUT,
                       progress=(lambda done, total: report("downloading", done, total))
                       if report else None)
    fetched = sum(1 for r in results if r.path is not None and not r.cached)
    log.info("fathomnet: %d images: %d downloaded, %d from the cache %s, %d failed (%.1f s)",
             len(results), fetched, sum(r.cached for r in results), cache,
             sum(r.path is None for r in results), time.perf_counter() - started)
    for im, res in zip(selected, results, strict=True):
        if res.path is None:
            batch.drop("download-failed", im.url, f"image {im.uuid}: {res.error}; re-run the "
                       "ingest to retry (downloaded images are kept in the cache)")
            continue
        width, height = im.width or res.width, im.height or res.height
        where = f"fathomnet:{im.uuid}"
        index = len(batch.records)
        if not (width and height):
            from workbench.media.probe import probe_file

            info = probe_file(res.path)
            width, height = info.width, info.height
        if not (width and height):
            batch.drop("unreadable-image", res.path, f"image {im.uuid}: no size in the record "
                       "and the file cannot be read; delete it from the cache and re-run")
            continue
        for box in im.boundingBoxes or ():
            if not _usable(box, wanted):
                continue
            x, y, w, h = (float(v) if v is not None else float("nan")
                          for v in (box.x, box.y, box.width, box.height))
            xyxyn = (x / width, y / height, (x + w) / width, (y + h) / height)
            batch.boxes.add(index, mapping.get(box.concept, box.concept), xyxyn, where,
                            wh=(w / width, h / height))
        contributor = im.contributorsEmail or "unknown contributor"
        batch.records.append(ImageRecord(
            res.path, str(im.uuid), labeled=True,
            declared_size=(int(im.width), int(im.height)) if im.width and im.height else None,
            fields={"fathomnet_uuid": str(im.uuid), "license": _license(im),
                    "attribution": f"FathomNet (https://fathomnet.org), image {im.uuid}, "
                                   f"contributed by {contributor}",
                    "source_url": im.url}))


def _license(image: Any) -> str:
    """The image's own license tag when it has one, else FathomNet's data use policy."""
    for tag in image.tags or ():
        if (tag.key or "").lower() in ("license", "licence", "rights") and tag.value:
            return str(tag.value)
    return LICENSE
