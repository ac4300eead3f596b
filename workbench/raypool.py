"""Image work on a Ray cluster: paths stream through an actor pool, results stream back.

Shared by the capabilities that run a model over every image of a view (``predict --engine
ray``, ``ssl embed --engine ray``). The image paths (with their positions) stream into a Ray
Data pipeline, ``from_items -> map_batches(actor)`` on an actor pool of ``workers`` actors,
each holding one model (one CPU each, or one GPU each). The actor class is the capability's:
it is built from a plain ``spec`` dict and turns a batch ``{"index": (B,), "path": (B,)}`` into
one result dict (plain numpy, with the batch's ``index``), which this module packs into one
bytes row. :func:`stream` hands the result dicts back in groups of about ``chunk`` images as
they finish, in any order, so the driver writes as they arrive and memory stays flat.

On a multi-machine cluster the images and the model files must be reachable at the same paths
on every node (a shared file system), and workbench installed in every node's Python. Actors
import neither FiftyOne nor the store.

Ray is an optional extra: without it, :func:`import_ray` names the install command.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from workbench.errors import ConfigError, WorkbenchError

INSTALL = 'pip install "ray[data]"'
#: seconds after which the results received so far are handed back even if fewer than a chunk
FLUSH_SECONDS = 5.0
#: input blocks at most (a million images at batch 16 make 31,250 blocks of 32 without it)
MAX_BLOCKS = 20_000

#: ``actor(batch {"index": (B,) int64, "path": (B,) str}) -> result dict with "index"``
BatchFn = Callable[[dict[str, np.ndarray]], dict[str, Any]]


class RayUnavailableError(ConfigError):
    """Ray (with Ray Data) is not installed in this Python."""


class RayClusterError(WorkbenchError):
    """No Ray cluster answers at the given address, or its workers failed."""


def import_ray() -> Any:
    """The ``ray`` module, with Ray Data loaded.

    Raises:
        RayUnavailableError: Ray is missing (names the install command).
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailableError(
            f"--engine ray needs Ray Data, which this Python cannot import ({exc}); install it "
            f"with: {INSTALL} (or drop --engine ray to run in this process)") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto``."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if address == "auto" or not sep:
        return None
    if not port.isdigit():
        raise ConfigError(f"invalid --address {address!r}: use auto, ray://HOST:PORT or "
                          "HOST:PORT (the head node's GCS port, 6379 by default)")
    return host or "127.0.0.1", int(port)


def _check_reachable(address: str) -> None:
    """Fail fast, with advice, when nothing listens at ``address`` (Ray itself retries long)."""
    target = _host_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=3.0).close()
    except OSError as exc:
        raise RayClusterError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            f"`ray start --head --port {target[1]}` on {target[0]} (and `ray start --address "
            f"{target[0]}:{target[1]}` on the other machines), or drop --address to run a "
            "local Ray on this machine") from None


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """``ray``, connected to ``address`` for the duration (an existing connection is reused).

    Args:
        address: None: start a Ray instance on this machine for the command; ``auto``: the
            cluster ``ray start`` runs on this machine; ``HOST:PORT``: a cluster's head node;
            ``ray://HOST:PORT``: a Ray Client server.

    Raises:
        RayUnavailableError: Ray is not installed; RayClusterError: no cluster answers.
    """
    ray = import_ray()
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # the command reports progress
    if ray.is_initialized():
        yield ray
        return
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayClusterError(
            f"cannot connect to a Ray cluster at {address or 'a new local instance'}: {first}; "
            "check the address (`ray status` on the head node prints it) or drop --address "
            "to run a local Ray on this machine") from None
    try:
        yield ray
    finally:
        ray.shutdown()


class Packed:
    """The ``map_batches`` callable: the capability's actor, its result pickled into one row
    (Ray Data's columns would otherwise need equal-length arrays)."""

    def __init__(self, actor: Callable[[dict[str, Any]], BatchFn], spec: dict[str, Any]) -> None:
        self.fn = actor(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"payload": (1,) bytes}``: the pickled result of the actor on ``batch``."""
        part = self.fn({"index": np.asarray(batch["index"], dtype=np.int64),
                        "path": np.asarray(batch["path"])})
        return {"payload": np.array([pickle.dumps(part, protocol=5)], dtype=object)}


def worker_error(exc: BaseException) -> WorkbenchError:
    """The user's error a worker raised (a missing image ...), or a RayClusterError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, WorkbenchError):
            return WorkbenchError(str(seen).strip().splitlines()[-1])
        seen = seen.__cause__ or getattr(seen, "cause", None)
    text = str(exc).strip().splitlines()
    return RayClusterError(f"the Ray job failed: {text[-1] if text else type(exc).__name__}")


def stream(paths: list[str], actor: Callable[[dict[str, Any]], BatchFn], spec: dict[str, Any],
           *, address: str | None, batch: int, chunk: int, workers: int | None = None,
           gpu: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Run ``actor(spec)`` over ``paths`` on Ray; groups of results as they finish.

    Args:
        paths: ``N`` image files, readable on every node.
        actor: builds, in each actor process, the per-batch function from ``spec`` (a class
            is fine); importable by the workers (a module-level name).
        spec: plain data the actors need (pickled to them).
        address: see :func:`connected`.
        batch: images per actor call.
        chunk: images per group handed back (a group is also handed back after
            :data:`FLUSH_SECONDS` with whatever has arrived).
        workers: actors (None: one per CPU of the cluster, or per GPU with ``gpu``).
        gpu: one GPU per actor.

    Yields:
        Lists of the actors' result dicts, each with the ``index`` (into ``paths``) of its
        images; every image is in exactly one result.

    Raises:
        RayUnavailableError, RayClusterError, WorkbenchError: see :func:`connected`; a worker's
            error (an unreadable image) is raised as the driver's.
    """
    with connected(address) as ray:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command shows its own
        context.print_on_execution_start = False
        n_workers = workers or max(1, int(ray.cluster_resources().get(
            "GPU" if gpu else "CPU", 1)))
        items = [{"index": i, "path": p} for i, p in enumerate(paths)]
        # small input blocks (two actor calls each): results stream back per block
        blocks = min(max(1, -(-len(items) // (2 * batch))), MAX_BLOCKS)
        ds = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            Packed, fn_constructor_kwargs={"actor": actor, "spec": spec}, batch_size=batch,
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=n_workers),
            num_cpus=1, num_gpus=1 if gpu else 0)
        rows = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
        parts: list[dict[str, Any]] = []
        pending, flushed = 0, time.monotonic()
        while True:
            try:
                got = next(rows)
            except StopIteration:
                break
            except WorkbenchError:
                raise
            except Exception as exc:  # Ray wraps the worker's error
                raise worker_error(exc) from None
            for blob in got["payload"]:
                part = pickle.loads(blob)
                parts.append(part)
                pending += len(part["index"])
            if pending >= chunk or (parts and time.monotonic() - flushed > FLUSH_SECONDS):
                yield parts
                parts, pending, flushed = [], 0, time.monotonic()
        if parts:
            yield parts


def check_options(engine: str, address: str | None, workers: int | None) -> None:
    """The rules of ``--address`` and ``--workers``, for every command with ``--engine``.

    Raises:
        ConfigError: Ray options without ``--engine ray``, or fewer than one worker.
    """
    if engine != "ray" and (address or workers is not None):
        raise ConfigError("--address and --workers choose the Ray cluster and its actors; "
                          "add --engine ray (or drop them to run in this process)")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
