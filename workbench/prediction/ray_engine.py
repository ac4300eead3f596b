"""The ``ray`` inference engine: pool inference on a Ray cluster with Ray Data.

The image paths (with their positions) stream into a Ray Data pipeline,
``from_items -> map_batches(Detector)`` on an actor pool of ``workers`` actors, each holding one
model (one CPU each, or one GPU each with ``--device N``). Each actor call runs one forward
pass of ``batch`` images and returns plain numpy (normalized ``xyxy`` boxes, confidences,
class ids, class vectors, positions, embeddings) packed in one bytes row; the driver consumes
them with ``iter_batches`` as they finish, in any order, and hands them back in chunks of about
``chunk`` images, which :func:`~workbench.prediction.predict.predict_view` writes with the
same bulk writer as the local engine (memory stays flat: nothing waits for the whole view).

The model is prepared once by the driver (a ``.pt`` is exported to ``WS/.workbench/onnx``
before any actor starts); actors load that ``.onnx`` (or the ``.pt`` for the ``ultralytics``
backend) from the same path, so on a multi-machine cluster the workspace folder and the images
must be reachable at the same paths on every node (a shared file system), and workbench
installed in every node's Python. Actors import neither FiftyOne nor the store.

Ray is an optional extra: without it, :func:`import_ray` names the install command.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from workbench.core.types import Predictions
from workbench.errors import ConfigError, WorkbenchError
from workbench.prediction.engines import Chunk, InferenceJob

INSTALL = 'pip install "ray[data]"'
#: seconds after which the results received so far are handed back even if fewer than a chunk
FLUSH_SECONDS = 5.0
#: input blocks at most (a million images at batch 16 make 31,250 blocks of 32 without it)
MAX_BLOCKS = 20_000


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
            f"with: {INSTALL} (or drop --engine ray to predict in this process)") from None
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


def actor_spec(job: InferenceJob) -> dict[str, Any]:
    """What each actor needs to build its model (plain data, pickled to the actors).

    An ``onnxruntime`` job's actors load the driver's ``.onnx`` (exported once, before they
    start) with one intra-op thread each: the actor is the unit of parallelism.
    """
    gpu = job.device != "cpu"
    onnx_file = getattr(job.predictor, "path", None)  # OnnxPredictor.path
    common = {"options": job.options, "embeddings": job.embeddings}
    if job.backend == "onnxruntime" and isinstance(onnx_file, str):
        return common | {"onnx": onnx_file, "threads": 1}
    return common | {"backend": job.backend, "weights": job.weights, "root": job.root,
                     "imgsz": job.predictor.imgsz, "batch": job.options.batch,
                     "device": "0" if gpu else "cpu"}  # Ray shows an actor only its GPU


class Detector:
    """The ``map_batches`` callable: one model per actor, a batch of paths in, one packed row
    of results out."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if "onnx" in spec:
            from workbench.prediction.backends.onnx import OnnxPredictor

            self.predictor: Any = OnnxPredictor(spec["onnx"], threads=spec["threads"])
        else:
            from workbench.prediction.backends import BACKENDS

            root = SimpleNamespace(root=Path(spec["root"]))  # backends read only the folder
            self.predictor = BACKENDS.get(spec["backend"])(
                cast(Any, root), spec["weights"], spec["imgsz"], spec["batch"], spec["device"])
        self.options = spec["options"]
        self.embeddings = bool(spec["embeddings"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Predict ``batch["path"]``; return ``{"payload": (1,) bytes}`` (see :func:`unpack`)."""
        paths = [str(p) for p in batch["path"]]
        preds, emb = self.predictor.predict(paths, self.options, self.embeddings)
        part = {"index": np.asarray(batch["index"], dtype=np.int64), "xyxy": preds.xyxy,
                "confidence": preds.confidence, "class_id": preds.class_id,
                "image_index": preds.image_index, "class_probs": preds.class_probs,
                "embeddings": emb}
        return {"payload": np.array([pickle.dumps(part, protocol=5)], dtype=object)}


def merge(job: InferenceJob, parts: list[dict[str, Any]], n_classes: int) -> Chunk:
    """One chunk from actor results: ids in arrival order, ``image_index`` re-based to them."""
    offsets = np.cumsum([0] + [len(p["index"]) for p in parts[:-1]])
    index = np.concatenate([p["index"] for p in parts])
    ids = [job.ids[i] for i in index.tolist()]
    probs = [p["class_probs"] for p in parts]
    preds = Predictions(
        np.concatenate([p["xyxy"] for p in parts]).reshape(-1, 4),
        np.concatenate([p["confidence"] for p in parts]),
        np.concatenate([p["class_id"] for p in parts]).astype(np.int64),
        np.concatenate([p["image_index"] + o for p, o in zip(parts, offsets, strict=True)]
                       ).astype(np.int64),
        None if any(p is None for p in probs) else np.concatenate(probs).reshape(-1, n_classes))
    embs = [p["embeddings"] for p in parts]
    emb = None if any(e is None for e in embs) else np.concatenate(embs)
    return ids, preds, emb


def _worker_error(exc: BaseException) -> WorkbenchError:
    """The user's error a worker raised (a missing image ...), or a RayClusterError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, WorkbenchError):
            return WorkbenchError(str(seen).strip().splitlines()[-1])
        seen = seen.__cause__ or getattr(seen, "cause", None)
    text = str(exc).strip().splitlines()
    return RayClusterError(f"the Ray job failed: {text[-1] if text else type(exc).__name__}")


def run(job: InferenceJob) -> Iterator[Chunk]:
    """Predict ``job`` on Ray; chunks of about ``job.chunk`` images as the actors finish them.

    Raises:
        RayUnavailableError, RayClusterError, WorkbenchError: see :func:`connected`; a worker's
            error (an unreadable image) is raised as the driver's.
    """
    spec = actor_spec(job)
    gpus = 1 if job.device != "cpu" else 0
    n_classes = len(job.predictor.names)
    with connected(job.address) as ray:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command shows its own
        context.print_on_execution_start = False
        workers = job.workers or max(1, int(ray.cluster_resources().get(
            "GPU" if gpus else "CPU", 1)))
        items = [{"index": i, "path": p} for i, p in enumerate(job.paths)]
        # small input blocks (two forward passes each): results stream back per block
        blocks = min(max(1, -(-len(items) // (2 * job.options.batch))), MAX_BLOCKS)
        ds = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            Detector, fn_constructor_kwargs={"spec": spec}, batch_size=job.options.batch,
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1, num_gpus=gpus)
        stream = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
        parts: list[dict[str, Any]] = []
        pending, flushed = 0, time.monotonic()
        while True:
            try:
                batch = next(stream)
            except StopIteration:
                break
            except WorkbenchError:
                raise
            except Exception as exc:  # Ray wraps the worker's error
                raise _worker_error(exc) from None
            for blob in batch["payload"]:
                part = pickle.loads(blob)
                parts.append(part)
                pending += len(part["index"])
            if pending >= job.chunk or (parts and time.monotonic() - flushed > FLUSH_SECONDS):
                yield merge(job, parts, n_classes)
                parts, pending, flushed = [], 0, time.monotonic()
        if parts:
            yield merge(job, parts, n_classes)
