"""The api verbs (config in, result with to_dict out) give what the keyword functions give."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench.curation.api as curation
import workbench.ingestion.api as ingestion
from tests.conftest import DEMO
from workbench.curation.status import status as status_dict
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.integration


def test_verbs_with_configs(workspace: Workspace, tmp_path: Path) -> None:
    ingested = ingestion.ingest(workspace, ingestion.IngestConfig(path=DEMO, format="yolo",
                                                                  source="aquarium-mini"))
    assert ingested.added > 0 and ingested.run
    again = ingestion.ingest(workspace, DEMO, "yolo", source="aquarium-mini")
    assert (again.added, again.already_present) == (0, ingested.added)

    split = curation.split(workspace, curation.SplitConfig(ratios="0.5,0.25,0.25", seed=1,
                                                           reset=True))
    assert split.ratios == (0.5, 0.25, 0.25) and split.seed == 1 and split.reset
    assert curation.split(workspace, seed=1).moved == 0

    checked = curation.check(workspace, curation.CheckConfig())
    assert checked.to_dict()["ok"] == checked.ok

    report = curation.status(workspace)
    assert report.to_dict() == status_dict(workspace)
    assert report["samples"] == report.samples == ingested.added
    assert report.runs == {"ingest": 1, "split": 2}

    listed = curation.runs(workspace, curation.RunsConfig(kind="split"))
    assert [r["kind"] for r in listed.rows] == ["split", "split"]
    assert listed.rows[0]["run"] == split.run
    assert listed.to_dict() == {"runs": listed.rows}
    assert curation.runs(workspace).rows[0]["run"] == ingested.run


def test_init(tmp_path: Path, mongo_uri: str) -> None:
    import uuid

    name = f"t-{uuid.uuid4().hex[:10]}"
    result = curation.init(tmp_path / "new", curation.InitConfig(
        name=name, classes=["fish", "shark"], database_uri=mongo_uri))
    try:
        assert result.to_dict() == {"workspace": str((tmp_path / "new").resolve()),
                                    "dataset": name, "classes": ["fish", "shark"],
                                    "database": mongo_uri}
    finally:
        assert result.ws is not None
        result.ws.dataset.delete()
