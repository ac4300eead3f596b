"""Browser-test helpers: the App's widgets as a user reaches them (grid, operator browser,
prompts, panels, grid sort, sample modal), on Playwright's sync API.

Locators rely on what FiftyOne 1.22's App renders: ``data-cy`` attributes (``fo-grid``,
``looker``, ``operators-browser``, ``operators-prompt-modal``, ``new-panel-btn``,
``new-panel-option-<panel>``, ``panel-content-<panel>``, ``selector-Sort by``,
``selector-result-<field>``, ``entry-counts``, ``modal``), the ``canvas-loaded`` attribute of a
thumbnail's canvas, form labels (``<p>`` text) and button names.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

from tests.ui.browser.processes import App

THUMBNAIL = "[data-cy=fo-grid] [data-cy=looker] canvas[canvas-loaded=true]"
PROMPT = "[data-cy=operators-prompt-modal]"


# ------------------------------------------------------------------------------ App widgets
# `page` / `locator` arguments are Playwright sync-API objects (kept untyped here so mypy and
# ruff do not need Playwright's stubs).


def wait_for_thumbnails(page: Any, timeout_ms: float = 90_000) -> int:
    """Wait for the grid to draw at least one thumbnail (not "network idle": the App polls
    forever) and return how many it has drawn."""
    page.wait_for_selector(THUMBNAIL, timeout=timeout_ms)
    return int(page.locator(THUMBNAIL).count())


def dismiss_popovers(page: Any) -> None:
    """Close FiftyOne's "Explore Enterprise" popover if it shows (it covers the grid actions)."""
    button = page.get_by_role("button", name="Dismiss")
    if button.count():
        with contextlib.suppress(Exception):
            button.first.click(timeout=3000)


def open_dataset(page: Any, app: App) -> int:
    """Load the dataset page fresh and wait for thumbnails; returns their count."""
    page.goto(app.dataset_url)
    n = wait_for_thumbnails(page)
    dismiss_popovers(page)
    return n


def entry_count(page: Any) -> int:
    """The number of samples the grid says it shows ("638 samples")."""
    text = page.locator("[data-cy=entry-counts]").first.inner_text()
    match = re.search(r"([\d,]+)", text)
    if not match:
        raise AssertionError(f"no sample count in {text!r}")
    return int(match.group(1).replace(",", ""))


def wait_for_entry_count(page: Any, expected: int, timeout_s: float = 60) -> None:
    """Wait until the grid's sample count is ``expected``."""
    deadline = time.time() + timeout_s
    seen = None
    while time.time() < deadline:
        with contextlib.suppress(Exception):
            seen = entry_count(page)
            if seen == expected:
                return
        time.sleep(0.3)
    raise AssertionError(f"the grid shows {seen} samples, expected {expected}")


def open_operator(page: Any, name: str, search: str | None = None) -> Any:
    """Open operator ``name`` from the operator browser (the backtick key) and return its
    prompt.

    Args:
        page: the App page.
        name: the operator's name as the browser lists it under its label (``wb_select``).
        search: what to type in the browser's search box (default: ``name``).
    """
    page.locator("body").press("`")
    browser = page.locator("[data-cy=operators-browser]")
    browser.wait_for(timeout=15_000)
    page.locator("[data-cy=operators-browser-search]").fill(search or name)
    browser.get_by_text(name, exact=True).first.click(timeout=15_000)
    prompt = page.locator(PROMPT)
    prompt.wait_for(timeout=30_000)
    return prompt


def prompt_field(prompt: Any, label: str) -> Any:
    """The input of the prompt's field labelled ``label`` (labels come from the param names:
    ``n`` -> "N")."""
    xpath = (f"xpath=.//p[normalize-space()={json.dumps(label)}]"
             "/ancestor::div[.//input][1]//input")
    return prompt.locator(xpath).first


def fill_prompt(prompt: Any, values: dict[str, str]) -> None:
    """Type ``values`` (label -> text) into the prompt's fields."""
    for label, value in values.items():
        field = prompt_field(prompt, label)
        field.fill(value)
        field.press("Tab")  # commit: the form validates on change and enables Execute


def labelled_combobox(scope: Any, label: str) -> Any:
    """The dropdown (MUI select) of the form field labelled ``label`` in a prompt or a
    Python panel."""
    xpath = (f"xpath=.//p[normalize-space()={json.dumps(label)}]"
             "/ancestor::div[.//*[@role='combobox']][1]//*[@role='combobox']")
    return scope.locator(xpath).first


def combobox_options(page: Any, combobox: Any) -> list[str]:
    """Open the dropdown and return its choices (each option's first line: its value; the
    description follows on the next lines). The list stays open."""
    combobox.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=15_000)
    return [str(o.inner_text()).strip().splitlines()[0].strip() for o in options.all()]


def choose_option(page: Any, combobox: Any, value: str) -> None:
    """Pick ``value`` in the dropdown (matched on the option's first line)."""
    if not page.get_by_role("option").first.is_visible():
        combobox.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=15_000)
    for option in options.all():
        if str(option.inner_text()).strip().splitlines()[0].strip() == value:
            option.click()
            return
    raise AssertionError(f"no option {value!r} in the dropdown")


def execute_prompt(prompt: Any, timeout_ms: float = 120_000) -> str:
    """Press Execute and wait for the operator's output (its Close button); returns its text."""
    execute = prompt.get_by_role("button", name="Execute")
    execute.wait_for(timeout=15_000)
    deadline = time.time() + 15
    while execute.is_disabled() and time.time() < deadline:  # the form validates async
        time.sleep(0.2)
    execute.click()
    close = prompt.get_by_role("button", name="Close")
    close.wait_for(timeout=timeout_ms)
    # the dialog shows its Close button before the output is rendered into it
    deadline = time.time() + timeout_ms / 1000
    while True:
        text = str(prompt.inner_text())
        body = text.replace("Close", "").strip()
        if body or time.time() > deadline:
            break
        time.sleep(0.2)
    if "Error occurred" in text:
        with contextlib.suppress(Exception):  # unfold the traceback the App shows
            prompt.get_by_text("Error occurred").first.click(timeout=5000)
            time.sleep(0.5)
            text = str(prompt.inner_text())
        raise AssertionError(f"the operator failed in the App:\n{text}")
    return text


def _new_panel_menu(page: Any) -> Any:
    """Open the new-panel menu (the "+" beside the Samples tab); returns its options."""
    options = page.locator("[data-cy^='new-panel-option-']")
    if not options.first.is_visible():
        page.locator("[data-cy=new-panel-btn]").first.click()
    options.first.wait_for(timeout=15_000)
    return options


def panel_options(page: Any) -> dict[str, str]:
    """The panels the new-panel menu offers, name -> label (the menu stays open)."""
    options = _new_panel_menu(page)
    return {str(o.get_attribute("data-cy"))[len("new-panel-option-"):]: str(o.inner_text())
            for o in options.all()}


def open_panel(page: Any, panel: str) -> Any:
    """Open panel ``panel`` (its registered name, e.g. ``Embeddings``) from the new-panel
    menu; returns the panel's content."""
    _new_panel_menu(page)
    page.locator(f"[data-cy='new-panel-option-{panel}']").click(timeout=15_000)
    content = page.locator(f"[data-cy='panel-content-{panel}']")
    content.wait_for(timeout=30_000)
    return content


def open_panel_by_label(page: Any, label: str, timeout_s: float = 60) -> Any:
    """Open the panel whose menu entry reads ``label`` (e.g. "Workbench: export"); returns
    the panel's content.

    Plugin panels join the menu once the App has loaded the plugins' definitions (after the
    grid), so the menu is reopened until the entry shows.
    """
    deadline = time.time() + timeout_s
    while True:
        options = _new_panel_menu(page)
        # an entry reads "<icon ligature>\n\n<label>"
        offered = {str(o.inner_text()).strip().splitlines()[-1].strip(): o
                   for o in options.all()}
        if label in offered:
            name = str(offered[label].get_attribute("data-cy"))[len("new-panel-option-"):]
            offered[label].click()
            content = page.locator(f"[data-cy='panel-content-{name}']")
            content.wait_for(timeout=30_000)
            return content
        if time.time() > deadline:
            raise AssertionError(f"no panel {label!r} in the new-panel menu: {sorted(offered)}")
        page.keyboard.press("Escape")
        time.sleep(1)


def sort_grid_by(page: Any, field: str) -> None:
    """Sort the grid by ``field`` with the grid's "Sort by" selector (it offers the indexed
    fields); the sort starts ascending."""
    box = page.locator("[data-cy='selector-Sort by']")
    box.click()
    box.fill(field)
    page.locator(f"[data-cy='selector-result-{field}']").click(timeout=15_000)


def set_sort_descending(page: Any) -> None:
    """Switch the grid's sort to descending (the arrow beside "Sort by"; ascending first)."""
    ascending = page.locator("div[title='Ascending']")
    if ascending.count():
        ascending.first.click()
    page.locator("div[title='Descending']").first.wait_for(timeout=15_000)


def first_sample_id(page: Any) -> str:
    """Open the grid's first sample and return its id (the modal puts it in the URL)."""
    page.locator("[data-cy=fo-grid] [data-cy=looker]").first.click()
    page.locator("[data-cy=modal]").first.wait_for(timeout=30_000)
    deadline = time.time() + 30
    while time.time() < deadline:
        match = re.search(r"[?&]id=([0-9a-f]{24})", page.url)
        if match:
            return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no sample id in the URL after opening the first sample: {page.url}")


def save_screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page screenshot as ``folder/name.png`` (a test artifact)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def close_modal(page: Any, timeout_s: float = 30) -> None:
    """Close the sample modal (Escape, repeated: a modal still loading ignores it)."""
    modal = page.locator("[data-cy=modal]")
    deadline = time.time() + timeout_s
    while modal.count() and modal.first.is_visible():
        if time.time() > deadline:
            raise AssertionError("the sample modal does not close")
        page.keyboard.press("Escape")
        time.sleep(0.5)


def wait_for_first_sample(page: Any, expected: str, timeout_s: float = 60) -> str:
    """Open the grid's first sample until it is ``expected`` (the grid reloads asynchronously
    after a sort) or the time is up; returns the last id seen."""
    deadline = time.time() + timeout_s
    while True:
        wait_for_thumbnails(page)
        seen = first_sample_id(page)
        if seen == expected or time.time() > deadline:
            return seen
        close_modal(page)
        time.sleep(1)


def colored_pixels(locator: Any) -> int:
    """How many pixels of the element's screenshot are saturated colour (plotted points;
    the App's background, text and grid lines are greys)."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"), dtype=np.int16)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 80).sum())


def embeddings_points(page: Any, brain_key: str, timeout_s: float = 60) -> tuple[int, int]:
    """In the open Embeddings panel, open the visualization ``brain_key`` and wait until it
    is drawn.

    Returns:
        (the point count the panel reports ("298 points"), the coloured pixels of its plot).
    """
    page.get_by_text(brain_key, exact=True).first.click(timeout=30_000)
    label = page.get_by_text(re.compile(r"^\s*[\d,]+ points\s*$"))
    label.first.wait_for(timeout=timeout_s * 1000)
    n = int(re.sub(r"\D", "", str(label.first.inner_text())))
    plot = page.locator("[data-cy='panel-content-Embeddings'] canvas").first
    plot.wait_for(timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    pixels = colored_pixels(plot)
    while pixels == 0 and time.time() < deadline:  # WebGL draws after the data arrives
        time.sleep(0.5)
        pixels = colored_pixels(plot)
    return n, pixels

