"""The dataset's App defaults: a readable colour per label field and what the grid shows.

Ground truth and every prediction field (``pred_<run>``, ``show_<run>``, ``pred_<run>_tta``)
get a bright colour of their own, chosen from the field's name (the same field keeps its
colour across refreshes), drawn per field (``color_by="field"``). The grid opens with ground
truth and the newest ``show_<run>`` (predictions at the display threshold) switched on.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from workbench.store import runs, schema
from workbench.store.predictions import field_name
from workbench.store.runs import RunKind

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: Ground truth's colour (bright green, the usual "truth" colour).
GROUND_TRUTH_COLOR = "#39ff14"
#: Bright, saturated colours readable on dark and on light images; no green (ground truth's).
PALETTE = ("#00e5ff", "#ff2bd6", "#ffe600", "#ff8c00", "#ff3b3b", "#b388ff", "#40c4ff",
           "#ff80ab", "#ffd180", "#e040fb", "#18ffff", "#ffab40")
#: Prefixes of the label fields that get a colour (besides ground truth).
PREDICTION_PREFIXES = ("show_", "pred_")


def label_fields(ws: Workspace) -> list[str]:
    """Ground truth (when declared) and the prediction fields, in schema order."""
    types = schema.field_types(ws)
    return [name for name, kind in types.items() if kind == "Detections" and (
        name == schema.GROUND_TRUTH or name.startswith(PREDICTION_PREFIXES))]


def field_colors(fields: list[str]) -> dict[str, str]:
    """A distinct colour per field, stable by name.

    Each field, in the given (schema, i.e. creation) order, starts at the palette slot its
    name hashes to and takes the next free slot; so a field added later never changes the
    colours of the fields before it. Once every slot is used, colours repeat.
    """
    colors: dict[str, str] = {}
    used: set[int] = set()
    for name in fields:
        if name == schema.GROUND_TRUTH:
            colors[name] = GROUND_TRUTH_COLOR
            continue
        if len(used) == len(PALETTE):
            used.clear()
        slot = int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big") % len(PALETTE)
        while slot in used:
            slot = (slot + 1) % len(PALETTE)
        used.add(slot)
        colors[name] = PALETTE[slot]
    return colors


def newest_display_field(ws: Workspace) -> str | None:
    """``show_<run>`` of the newest prediction run that has one (None: none has)."""
    present = set(schema.field_names(ws))
    for doc in reversed(runs.list_runs(ws, RunKind.PREDICT)):
        show = field_name("show", str(doc["_id"]))
        if show in present:
            return show
    shown = [f for f in schema.field_names(ws) if f.startswith("show_")]
    return shown[-1] if shown else None


def refresh_app_config(ws: Workspace) -> None:
    """Set the dataset's App colour scheme and default active fields from its label fields.

    Colours: :func:`field_colors` of :func:`label_fields`, by field. Active fields: ground
    truth and :func:`newest_display_field` (FiftyOne's default when there is neither).
    """
    from workbench.store.connection import fiftyone

    fo = fiftyone()
    from fiftyone.core.odm.dataset import ActiveFields

    fields = label_fields(ws)
    colors = field_colors(fields)
    ds = ws.dataset
    ds.reload()
    ds.app_config.color_scheme = fo.ColorScheme(
        color_by="field", color_pool=[GROUND_TRUTH_COLOR, *PALETTE],
        fields=[{"path": name, "fieldColor": colors[name]} for name in fields])
    active = [f for f in (schema.GROUND_TRUTH if schema.GROUND_TRUTH in fields else None,
                          newest_display_field(ws)) if f]
    ds.app_config.active_fields = ActiveFields(paths=active) if active else None
    ds.save()
