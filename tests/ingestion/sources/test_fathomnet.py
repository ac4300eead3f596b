"""``fathomnet:CONCEPT``: the real ``fathomnet`` client against a local server in the shape of
FathomNet's API (tests/media/fathomnet_server.py), serving real demo images."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO, cli_env, demo_images
from tests.media.fathomnet_server import FathomNetServer, box_dict
from workbench.errors import SourceError
from workbench.ingestion.sources import SOURCES, fathomnet
from workbench.media.records import SourceBatch, SourceOptions

OPTIONS = ("limit", "class_map", "cache", "taxa_descendants", "bbox_only")
TAXA = {"Actinopterygii": ["Actinopterygii", "Sebastes", "Sebastolobus", "Not listed"]}
EXTRA_CONCEPTS = ["Actinopterygii", "Sebastolobus", "Bathochordaeus"]
#: demo train images 0-3 hold fish (Sebastes), 4-11 puffins (Fratercula); valid 0: Nanomia.
N_SEBASTES, N_FRATERCULA = 4, 9


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FathomNetServer]:
    srv = FathomNetServer(demo_images("train", 12) + demo_images("valid", 1), taxa=TAXA)
    recs = srv.records
    recs[0]["boundingBoxes"].append(box_dict("Fratercula", 10, 12, 50, 40))
    recs[1]["boundingBoxes"].append(box_dict("Sebastes", 0, 0, 30, 30, rejected=True))
    recs[1]["boundingBoxes"].append(box_dict("Chiroteuthis", 5, 5, 20, 20))
    recs[12]["boundingBoxes"] = [box_dict("Nanomia", 1, 1, 20, 20, rejected=True)]
    srv.concepts = sorted({*srv.concepts, *EXTRA_CONCEPTS, "Nanomia", "Chiroteuthis"})
    with srv:
        monkeypatch.setenv(fathomnet.URL_ENV, srv.api)
        monkeypatch.setattr(fathomnet, "BACKOFF", 0.01)
        monkeypatch.setattr(fathomnet, "API_BACKOFF", 0.01)
        monkeypatch.setattr(fathomnet, "TIMEOUT", 2.0)
        yield srv


@pytest.fixture
def registered() -> Iterator[None]:
    """``fathomnet`` in SOURCES for this test, as the registration line adds it."""
    added = "fathomnet" not in SOURCES
    if added:
        SOURCES.register("fathomnet", fathomnet.parse, help="fathomnet:CONCEPT[,CONCEPT]",
                         scheme=True, options=OPTIONS)
    yield
    if added:
        del SOURCES._entries["fathomnet"]


def _parse(root: Path, spec: str, **params: Any) -> SourceBatch:
    return fathomnet.parse(Path(spec), SourceOptions(workspace_root=root, spec=spec,
                                                     params=params))


def _record(srv: FathomNetServer, uuid: str) -> dict[str, Any]:
    return next(r for r in srv.records if r["uuid"] == uuid)


def test_records_boxes_and_provenance(server: FathomNetServer, tmp_path: Path) -> None:
    batch = _parse(tmp_path, "Sebastes")
    assert len(batch.records) == N_SEBASTES and batch.dropped == 0
    assert batch.extra_fields == fathomnet.EXTRA_FIELDS and batch.class_names == ["Sebastes"]
    image, label, xyxyn = batch.boxes.arrays()
    assert set(label) == {"Sebastes"}     # other concepts' boxes and rejected boxes left out
    for i, rec in enumerate(batch.records):
        src = _record(server, rec.source_id)
        assert rec.labeled and rec.fields["fathomnet_uuid"] == src["uuid"]
        assert rec.fields["license"] == fathomnet.LICENSE
        assert src["uuid"] in rec.fields["attribution"] and rec.fields["source_url"] == src["url"]
        assert rec.declared_size == (src["width"], src["height"])
        assert rec.path.parent.parent == tmp_path / "media" / "fathomnet"
        assert rec.path.read_bytes() == server.files["/static/" + src["url"].rsplit("/", 1)[1]]
        px = np.array([[b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]]
                       for b in src["boundingBoxes"]
                       if b["concept"] == "Sebastes" and not b["rejected"]], dtype=float)
        px /= [src["width"], src["height"], src["width"], src["height"]]
        np.testing.assert_allclose(xyxyn[image == i], px)


def test_class_map_limit_round_robin_and_dedup(server: FathomNetServer, tmp_path: Path) -> None:
    cmap = tmp_path / "map.yaml"
    cmap.write_text("Sebastes: fish\nFratercula: puffin\n")
    batch = _parse(tmp_path, "Sebastes, Fratercula", limit=6, class_map=str(cmap))
    ids = [r.source_id for r in batch.records]
    assert len(ids) == len(set(ids)) == 6
    concepts = [{b["concept"] for b in _record(server, i)["boundingBoxes"]} for i in ids]
    assert sum("Fratercula" in c and "Sebastes" not in c for c in concepts) == 2  # fair share
    assert batch.class_names == ["fish", "puffin"] and set(batch.boxes.label) == {"fish", "puffin"}
    assert "Chiroteuthis" not in batch.boxes.label


def test_taxa_descendants(server: FathomNetServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no images of concept 'Actinopterygii'.*--taxa-desc"):
        _parse(tmp_path, "Actinopterygii")
    batch = _parse(tmp_path, "actinopterygii", taxa_descendants=True)  # case is forgiven
    assert len(batch.records) == N_SEBASTES and batch.class_names == ["Sebastes"]
    assert server.requests["/api/taxa/query/fathomnet/Actinopterygii"] == 1


def test_bbox_only(server: FathomNetServer, tmp_path: Path) -> None:
    batch = _parse(tmp_path, "Nanomia")             # its only box is rejected: a negative
    assert len(batch.records) == 1 and len(batch.boxes) == 0
    with pytest.raises(SourceError, match="no images with a box of concept 'Nanomia'"):
        _parse(tmp_path, "Nanomia", bbox_only=True)


def test_unknown_concept_suggests_close_names(server: FathomNetServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"unknown concept 'Sebastez' \(did you mean "
                                          r"'Sebastes', 'Sebastolobus'\?\)") as err:
        _parse(tmp_path, "Fratercula,Sebastez")
    assert "Fratercula" not in str(err.value).split("FathomNet knows")[0].split("api: ")[1]
    assert server.static_requests() == 0
    with pytest.raises(SourceError, match="no concept given"):
        _parse(tmp_path, " , ")


def test_concept_without_images(server: FathomNetServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images of concept 'Bathochordaeus'"):
        _parse(tmp_path, "Bathochordaeus")
    batch = _parse(tmp_path, "Bathochordaeus,Sebastes")
    assert len(batch.records) == N_SEBASTES
    assert [(i.severity, i.kind) for i in batch.issues] == [("warning", "concept-without-images")]


def test_failed_downloads_are_dropped(server: FathomNetServer, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fathomnet, "TIMEOUT", 0.4)
    srcs = [r for r in server.records if any(b["concept"] == "Sebastes"
                                             for b in r["boundingBoxes"])]
    path = lambda r: "/static/" + r["url"].rsplit("/", 1)[1]  # noqa: E731
    server.always[path(srcs[0])] = "404"
    server.always[path(srcs[1])] = "corrupt"
    server.faults[path(srcs[2])] = ["500", "sleep:1", "truncate"]   # then fine
    batch = _parse(tmp_path, "Sebastes")
    assert batch.dropped == 2 and len(batch.records) == N_SEBASTES - 2
    issues = {i.file: i for i in batch.issues}
    assert "HTTP 404" in issues[srcs[0]["url"]].message
    assert "not a complete image" in issues[srcs[1]["url"]].message
    assert {i.kind for i in batch.issues} == {"download-failed"}
    assert srcs[2]["uuid"] in [r.source_id for r in batch.records]
    # the boxes belong to the records that remain
    image, _, _ = batch.boxes.arrays()
    assert image.max() == len(batch.records) - 1


def test_api_failures(server: FathomNetServer, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fathomnet, "API_TIMEOUT", 0.5)
    server.faults["/api/images/query"] = ["500", "sleep:1.5"]     # 5xx, timeout, then fine
    assert len(_parse(tmp_path, "Sebastes").records) == N_SEBASTES
    assert server.requests["/api/images/query"] == 3
    server.always["/api/images/query"] = "404"                   # 4xx: final, no retry
    with pytest.raises(SourceError, match=r"could not fetch the images of 'Sebastes': Client "
                                          r"error \(404\)"):
        _parse(tmp_path, "Sebastes")
    assert server.requests["/api/images/query"] == 4
    from fathomnet.api import SESSION, EndpointManager

    assert fathomnet_default_root() == EndpointManager.ROOT      # the client is left as found
    assert all(type(a).__name__ == "HTTPAdapter" for a in SESSION.adapters.values())


def fathomnet_default_root() -> str:
    from fathomnet.api import get_api_url

    return get_api_url()


def test_second_run_downloads_nothing_and_cache_option(server: FathomNetServer,
                                                       tmp_path: Path) -> None:
    first = _parse(tmp_path, "Fratercula")
    fetched = server.static_requests()
    assert fetched == N_FRATERCULA == len(first.records)
    again = _parse(tmp_path, "Fratercula")
    assert server.static_requests() == fetched
    assert [r.path for r in again.records] == [r.path for r in first.records]
    other = _parse(tmp_path, "Fratercula", cache=str(tmp_path / "elsewhere"))
    assert all(r.path.is_relative_to(tmp_path / "elsewhere") for r in other.records)


def test_run_ingest_end_to_end(server: FathomNetServer, registered: None, workspace,
                               tmp_path: Path) -> None:
    from workbench.ingestion.config import IngestConfig
    from workbench.ingestion.ingest import run_ingest

    cmap = tmp_path / "map.json"
    cmap.write_text(json.dumps({"Sebastes": "fish", "Fratercula": "puffin"}))
    config = IngestConfig(path="fathomnet:Sebastes,Fratercula", limit=6, class_map=cmap)
    assert config.format == "fathomnet"
    result = run_ingest(workspace, config)
    assert (result.added, result.images_found, result.errors) == (6, 6, [])
    assert result.source == "fathomnet-sebastes-fratercula"
    ds = workspace.dataset
    uuids = ds.values("fathomnet_uuid")
    assert sorted(uuids) == sorted(ds.values("source_id")) and len(set(uuids)) == 6
    assert set(ds.values("license")) == {fathomnet.LICENSE}
    expected = sum(1 for u in uuids for b in _record(server, u)["boundingBoxes"]
                   if b["concept"] in ("Sebastes", "Fratercula") and not b["rejected"])
    assert result.boxes_added == expected
    labels = {d.label for dets in ds.values("ground_truth") for d in dets.detections}
    assert labels == {"fish", "puffin"} and set(workspace.classes) >= labels
    fetched = server.static_requests()
    again = run_ingest(workspace, config)
    assert (again.added, again.already_present) == (0, 6)
    assert server.static_requests() == fetched


_SHIM = """import sys
from workbench.ingestion.sources import SOURCES, fathomnet
if "fathomnet" not in SOURCES:
    SOURCES.register("fathomnet", fathomnet.parse, help="fathomnet:CONCEPT[,CONCEPT]",
                     scheme=True, options={options!r})
from workbench.cli.main import main
sys.argv = ["workbench", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_cli_process(server: FathomNetServer, workspace, tmp_path: Path) -> None:
    env = cli_env() | {fathomnet.URL_ENV: server.api}
    cmd = [sys.executable, "-c", _SHIM.format(options=OPTIONS), "ingest",
           "fathomnet:Sebastes", "--limit", "3", "--cache", str(tmp_path / "cache"),
           "-w", str(workspace.root), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["added"], report["errors"]) == (3, 0) and report["boxes_added"] > 0
    assert server.static_requests() == 3
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 3
    bad = [*cmd[:3], "ingest", "fathomnet:Sebastez", "-w", str(workspace.root)]
    proc = subprocess.run(bad, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unknown concept 'Sebastez'" in proc.stderr
