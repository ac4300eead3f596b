"""End-to-end: the FiftyOne App on a demo workspace, in headless Chromium, as a user drives it.

One workspace and one App for the module (see conftest.py); each test gets a fresh browser
context with the App's session state reset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.browser import helpers
from tests.ui.browser.conftest import RUN, artifacts_dir
from tests.ui.browser.processes import store_query

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SELECT_OPERATOR = "wb_select"
EXPORT_PANEL_LABEL = "Workbench: export"
UNCERTAINTY_FIELD = f"unc_{RUN}_entropy"
VISUALIZATION_KEY = f"viz_{RUN}"


def test_grid_renders_thumbnails(page: Any, demo_workspace: Path) -> None:
    n = helpers.wait_for_thumbnails(page)
    assert n > 0
    total = store_query(demo_workspace, count_values=("split",))["split"]
    assert helpers.entry_count(page) == sum(total.values()) == 638
    helpers.save_screenshot(page, artifacts_dir(), "grid")


def test_select_operator_queues_a_round(page: Any, demo_workspace: Path) -> None:
    prompt = helpers.open_operator(page, SELECT_OPERATOR, search="select")
    helpers.fill_prompt(prompt, {"N": "7", "Round": "browser-round"})
    helpers.save_screenshot(page, artifacts_dir(), "select_prompt")
    output = helpers.execute_prompt(prompt)
    helpers.save_screenshot(page, artifacts_dir(), "select_done")
    assert "browser-round" in output, output

    store = store_query(demo_workspace, count_values=("round_selected", "status"))
    assert store["round_selected"].get("browser-round") == 7, store["round_selected"]
    assert store["status"].get("queued") == 7, store["status"]
    # the operator opens the round it selected
    prompt.get_by_role("button", name="Close").click()
    helpers.wait_for_entry_count(page, 7)
    assert helpers.wait_for_thumbnails(page) == 7


def test_sort_by_uncertainty_shows_the_most_uncertain_first(page: Any, demo_workspace: Path
                                                            ) -> None:
    store = store_query(demo_workspace, top=UNCERTAINTY_FIELD)
    assert UNCERTAINTY_FIELD in store["fields"], store["fields"]
    top_ids, top_values = store["top"]["ids"], store["top"]["values"]
    assert top_values[0] > top_values[-1], "the test needs distinct scores at the top"
    most_uncertain = {i for i, v in zip(top_ids, top_values, strict=True) if v == top_values[0]}

    helpers.sort_grid_by(page, UNCERTAINTY_FIELD)
    helpers.set_sort_descending(page)
    helpers.wait_for_thumbnails(page)
    helpers.save_screenshot(page, artifacts_dir(), "sorted_by_uncertainty")
    first = helpers.wait_for_first_sample(page, top_ids[0])
    assert first in most_uncertain, (first, top_ids, top_values)


def test_embeddings_panel_draws_points(page: Any, demo_workspace: Path) -> None:
    store = store_query(demo_workspace, count_values=("split",))
    assert VISUALIZATION_KEY in store["brain_runs"], store["brain_runs"]
    pool = store["split"]["pool"]
    helpers.open_panel(page, "Embeddings")
    n, pixels = helpers.embeddings_points(page, VISUALIZATION_KEY)
    helpers.save_screenshot(page, artifacts_dir(), "embeddings")
    assert n == pool == 298  # the pool's embeddings, one point each
    assert pixels > 100, "the plot has no coloured points"


def test_export_panel_runs_an_onnx_export(page: Any, trained_run: str) -> None:
    from workbench.deployment.targets import TARGETS

    panel = helpers.open_panel_by_label(page, EXPORT_PANEL_LABEL)
    panel.get_by_role("cell", name=trained_run, exact=True).wait_for(timeout=60_000)
    assert helpers.labelled_combobox(panel, "Run to export").inner_text().strip() == trained_run

    target = helpers.labelled_combobox(panel, "Target")
    assert helpers.combobox_options(page, target) == TARGETS.names()
    helpers.choose_option(page, target, "onnx")
    helpers.save_screenshot(page, artifacts_dir(), "export_panel")

    panel.get_by_role("button", name="Export…").click()
    prompt = page.locator(helpers.PROMPT)
    prompt.wait_for(timeout=30_000)
    assert helpers.labelled_combobox(prompt, "Target").inner_text().strip() == "onnx"
    helpers.fill_prompt(prompt, {"Val limit": "16"})  # fidelity and mAP50 on 16 images
    output = helpers.execute_prompt(prompt, timeout_ms=300_000)
    helpers.save_screenshot(page, artifacts_dir(), "export_done")
    assert "model.onnx" in output and "cosine" in output, output
    prompt.get_by_role("button", name="Close").click()

    # the panel refreshes: the run's export and its report
    panel.get_by_role("cell", name="onnx", exact=True).first.wait_for(timeout=60_000)
    panel.get_by_text("fidelity", exact=True).first.wait_for(timeout=60_000)
    text = str(panel.inner_text())
    panel.get_by_text("fidelity", exact=True).first.scroll_into_view_if_needed()
    helpers.save_screenshot(page, artifacts_dir(), "export_report")
    for expected in ("size", "MB", "cosine", "mAP50", "latency"):
        assert expected in text, text
