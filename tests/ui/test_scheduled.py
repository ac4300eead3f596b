"""An operation scheduled (delegated) from the App runs through ``workbench app``'s worker:
FiftyOne's own queue, the shipped plugin, the real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.annotation.conftest import build_round
from tests.ui.plugin_ctx import context
from workbench.store import schema
from workbench.ui.launch import run_scheduled

pytestmark = pytest.mark.integration


def test_a_scheduled_select_runs_in_the_worker(workspace: Any, tmp_path: Path) -> None:
    from fiftyone.operators.delegated import DelegatedOperationService

    ws = build_round(workspace, tmp_path).ws
    service = DelegatedOperationService()
    uri = "@workbench/workbench/wb_select"
    # as the App queues it (executor.execute_or_delegate_operator marks the request delegated)
    good = service.queue_operation(operator=uri, context=context(
        ws, {"n": 2, "run": "p1", "round": "round-9"}, delegated=True))
    bad = service.queue_operation(operator=uri, context=context(ws, {"n": 0}, delegated=True))
    ran = {r["id"]: r for r in run_scheduled(ws)}
    assert set(ran) == {str(good.id), str(bad.id)}
    assert ran[str(good.id)]["state"] == "completed", ran[str(good.id)]["error"]
    assert ran[str(bad.id)]["state"] == "failed"
    assert "positive number" in str(ran[str(bad.id)]["error"])
    assert ws.samples.count_documents({schema.ROUND_SELECTED: "round-9"}) == 2
    assert run_scheduled(ws) == []
    assert service.get(bad.id).run_state == "failed"
