"""The loop capability's App operators: ``wb_loop_next`` and ``wb_loop_status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.loop.api import (
    NextConfig,
    StatusConfig,
    next_backends,
    next_round,
    simulation_strategies,
    status,
)
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)


def _next(ws: Workspace, cfg: NextConfig, report: Report) -> Any:
    def on_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        report(epoch / max(epochs, 1), f"training: epoch {epoch}/{epochs}")

    return next_round(ws, cfg, on_epoch=on_epoch)


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("" if value is None else str(value))


def status_summary(result: dict[str, Any]) -> str:
    """``loop status`` as Markdown: labeled images, a row per round, a row per training."""
    lines = [f"**{result['labeled_images']} labeled images**", "",
             "| round | strategy | selected | status | model | mAP50 |",
             "|---|---|---|---|---|---|"]
    for r in result.get("rounds") or []:
        counts = ", ".join(f"{k} {v}" for k, v in (r.get("status") or {}).items())
        lines.append(f"| {r.get('round', '')} | {r.get('strategy', '')} | "
                     f"{_figure(r.get('selected'))} | {counts} | {r.get('model') or ''} | "
                     f"{_figure(r.get('map50'))} |")
    lines += ["", "| training run | labeled train images | mAP50 |", "|---|---|---|"]
    lines += [f"| {t.get('run', '')} | {_figure(t.get('train_images'))} | "
              f"{_figure(t.get('map50'))} |" for t in result.get("trainings") or []]
    return "\n".join(lines)


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_loop_next`` and ``wb_loop_status``."""
    ops.register("wb_loop_next", OperatorSpec(
        "wb_loop_next", "Workbench: next round",
        "One step of the loop: train on the labels so far (or reuse the model trained on "
        "them), predict the pool, select the budget and send it to annotation as a package "
        "or a Label Studio project (`workbench loop next`). Long: schedule it.",
        NextConfig, _next,
        choices={"strategy": Choices(static=tuple(simulation_strategies())),
                 "backend": Choices(static=tuple(next_backends())),
                 "model": Choices(source="training_runs", other=True),
                 "train_view": _VIEWS, "val": _VIEWS},
        long=True, opens=lambda r: f"round:{r['round']}" if r.get("round") else None))
    ops.register("wb_loop_status", OperatorSpec(
        "wb_loop_status", "Workbench: loop status",
        "The rounds with their status and the mAP of the model behind each, and the training "
        "runs by labeled images (`workbench loop status`).",
        StatusConfig, plain(status), hidden=("plot",), summary=status_summary))
