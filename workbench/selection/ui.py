"""The selection capability's App operator: ``wb_select`` (``workbench select``)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from workbench.selection.api import DIVERSITY, STRATEGIES, SelectConfig, select
from workbench.ui.api import Choices, OperatorSpec, plain

if TYPE_CHECKING:
    from workbench.registry import Registry


_FIELDS = tuple(f.name for f in dataclasses.fields(SelectConfig))


def _summary(result: dict[str, Any]) -> str:
    verb = "Would select" if result.get("dry_run") else "Selected"
    lines = [f"**{verb} {result['selected']} of {result.get('candidates', 0)} pool images** "
             f"by {result['strategy']}" + (f" on run `{result['run']}`" if result.get("run")
                                           else "") + f" as round `{result['round']}`."]
    lines += [f"- warning: {w}" for w in result.get("warnings") or []]
    return "\n".join(lines)


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_select`` and ``wb_queue_selected``."""
    ops.register("wb_select", OperatorSpec(
        "wb_select", "Workbench: select a round",
        "Queue the pool images the model is least sure of (or a random baseline) as a new "
        "round: every strategy, diversity, class weights and confidence band of "
        "`workbench select`. The round opens when done.",
        SelectConfig, plain(select), hidden=("sample_ids",),
        choices={"strategy": Choices(static=tuple(STRATEGIES.names(hand_picked=False))),
                 "diversity": Choices(static=tuple(DIVERSITY.names())),
                 "run": Choices(source="prediction_runs", other=True),
                 "embeddings": Choices(source="embedding_fields"),
                 "round": Choices(source="rounds", other=True)},
        opens=lambda r: None if r.get("dry_run") else f"round:{r['round']}",
        summary=_summary))
    ops.register("wb_queue_selected", OperatorSpec(
        "wb_queue_selected", "Workbench: queue the selected images",
        "Queue the images selected in the grid or lassoed in the Embeddings panel as a round "
        "(`workbench select --strategy hand-picked --sample-id ...`); only unlabeled pool "
        "images are taken. The round opens when done.",
        SelectConfig, plain(select),
        choices={"round": Choices(source="rounds", other=True)},
        hidden=tuple(f for f in _FIELDS if f not in ("round", "replace", "dry_run")),
        fixed={"strategy": STRATEGIES.names(hand_picked=True)[0]},
        from_selection=lambda ids: {"sample_ids": ids, "n": max(len(ids), 1)},
        opens=lambda r: None if r.get("dry_run") else f"round:{r['round']}",
        summary=_summary))
