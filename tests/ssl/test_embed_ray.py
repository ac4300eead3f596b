"""``workbench ssl embed --engine ray`` on a real two-node Ray cluster on loopback, and the
chunked, resumable writes both engines share (issue 20).

The embeddings of the Ray engine are compared with the local engine's, image by image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import cli_env
from tests.ray_support import imports_of, ray_cluster, ray_env
from workbench.errors import ConfigError
from workbench.ssl.api import EmbedConfig, embed

RUN = "ssl-fixture"
FIELD = "emb_ssl_fixture"
QUICK: dict[str, Any] = {"visualization": "none", "similarity": False}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with ray_cluster() as address:
        yield address


def _vectors(ws: Any) -> dict[Any, np.ndarray]:
    return {d["_id"]: np.asarray(d[FIELD]) for d in
            ws.samples.find({FIELD: {"$exists": True}}, {FIELD: 1})}


def _drop(ws: Any, ids: list[Any] | None = None) -> None:
    """Remove the embeddings of ``ids`` (all: None), as a killed embed or a grown pool."""
    ws.samples.update_many({} if ids is None else {"_id": {"$in": ids}},
                           {"$unset": {FIELD: ""}})


def _assert_close(got: dict[Any, np.ndarray], want: dict[Any, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for sid, vec in want.items():
        np.testing.assert_allclose(got[sid], vec, atol=1e-5, err_msg=str(sid))


@pytest.mark.parametrize(("options", "says"), [
    ({"address": "auto"}, "add --engine ray"),
    ({"workers": 2}, "add --engine ray"),
    ({"engine": "ray", "workers": 0}, "at least 1"),
    ({"chunk": 0}, "positive"),
    ({"engine": "spark"}, "ray"),
])
def test_engine_options_are_checked(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EmbedConfig(run=RUN, **options)
    assert says in str(caught.value)


def test_the_embedding_actors_import_no_database_library() -> None:
    """``ssl embed --engine ray`` actors (through training's api, they load the store's
    lock module, which needs no database library)."""
    libs, _ = imports_of(["workbench.raypool", "workbench.ssl.features",
                          "workbench.ssl.engines"])
    assert libs == []


@pytest.mark.slow
@pytest.mark.integration
def test_local_chunks_and_resume_embed_only_what_is_missing(ssl_ws: Any,
                                                            pretrained: Any) -> None:
    whole = embed(ssl_ws, EmbedConfig(run=RUN, **QUICK))
    reference = _vectors(ssl_ws)
    assert whole.embedded == whole.images == len(reference) == 34 and whole.skipped == 0
    chunked = embed(ssl_ws, EmbedConfig(run=RUN, chunk=5, batch=4, **QUICK))
    _assert_close(_vectors(ssl_ws), reference)  # other chunks and batches: the same vectors
    assert chunked.embedded == 34 and chunked.dim == whole.dim
    missing = list(reference)[::3]  # an interrupted embed, or images added to the pool
    _drop(ssl_ws, missing)
    resumed = embed(ssl_ws, EmbedConfig(run=RUN, resume=True, chunk=4, **QUICK))
    assert (resumed.embedded, resumed.skipped) == (len(missing), 34 - len(missing))
    assert resumed.dim == whole.dim
    _assert_close(_vectors(ssl_ws), reference)
    nothing = embed(ssl_ws, EmbedConfig(run=RUN, resume=True, **QUICK))
    assert (nothing.embedded, nothing.skipped, nothing.dim) == (0, 34, whole.dim)


@pytest.mark.slow
@pytest.mark.integration
def test_cli_embed_on_ray_gives_the_local_vectors(ssl_ws: Any, pretrained: Any,
                                                  cluster: str) -> None:
    embed(ssl_ws, EmbedConfig(run=RUN, **QUICK))
    local = _vectors(ssl_ws)
    _drop(ssl_ws)
    cmd = [sys.executable, "-m", "workbench", "ssl", "embed", "--run", RUN, "--engine", "ray",
           "--address", cluster, "--workers", "2", "--batch", "4", "--chunk", "8",
           "--visualization", "none", "--no-similarity", "--json", "-w", str(ssl_ws.root)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=cli_env() | ray_env(),
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["engine"] == "ray" and out["images"] == out["embedded"] == 34
    _assert_close(_vectors(ssl_ws), local)


@pytest.mark.slow
@pytest.mark.integration
def test_resume_on_ray_embeds_only_the_missing_images(ssl_ws: Any, pretrained: Any,
                                                       cluster: str) -> None:
    embed(ssl_ws, EmbedConfig(run=RUN, **QUICK))
    local = _vectors(ssl_ws)
    missing = list(local)[1::4]
    _drop(ssl_ws, missing)
    done = embed(ssl_ws, EmbedConfig(run=RUN, resume=True, engine="ray", address=cluster,
                                     workers=1, **QUICK))
    assert (done.embedded, done.skipped, done.engine) == (len(missing), 34 - len(missing), "ray")
    _assert_close(_vectors(ssl_ws), local)
