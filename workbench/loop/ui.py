"""The loop capability's App operators: simulate, next round and status (``wb_loop_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.loop.api import (
    NextConfig,
    SimConfig,
    StatusConfig,
    next_backends,
    next_round,
    saving_text,
    simulate,
    simulation_strategies,
    status,
)
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)
#: The simulation's folder under the workspace (the same folder resumes).
SIMULATION_FOLDER = "loop-simulation"


def _simulate(ws: Workspace, cfg: SimConfig, report: Report) -> Any:
    return simulate(ws, cfg, ws.root / SIMULATION_FOLDER,
                    progress=lambda done, total, label: report(done / max(total, 1), label))


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


def simulation_summary(result: dict[str, Any]) -> str:
    """A simulation's summary as Markdown: per strategy, the final labeled images and boxes,
    the final mAP50 and the labels it needed to match random, counted in images and in boxes
    (the table ``loop --simulate`` prints)."""
    lines = ["| strategy | labeled images | labeled boxes | final mAP50 "
             "| labels to match random (images) | labels to match random (boxes) |",
             "|---|---|---|---|---|---|"]
    for name, row in (result.get("strategies") or {}).items():
        boxes = (f"{row['final_labeled_boxes_mean']:.0f} ± {row['final_labeled_boxes_std']:.0f}"
                 if "final_labeled_boxes_mean" in row else "")
        lines.append(f"| {name} | {row['final_labeled_images']} | {boxes} | "
                     f"{row['final_map50_mean']:.3f} ± {row['final_map50_std']:.3f} | "
                     f"{saving_text(row)} | {saving_text(row, 'label_saving_boxes')} |")
    return "\n".join([*lines, "", f"curves: `{result.get('curves')}` · plot: "
                       f"`{result.get('plot')}`"])


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_loop_simulate``, ``wb_loop_next`` and ``wb_loop_status``."""
    ops.register("wb_loop_simulate", OperatorSpec(
        "wb_loop_simulate", "Workbench: simulate rounds",
        "Measure whether a strategy saves labels on this workspace's labeled images: rounds of "
        "train, select and reveal the oracle's labels, per strategy and seed, against random "
        f"(`workbench loop --simulate`; results and resume in WS/{SIMULATION_FOLDER}/). Long: "
        "schedule it.",
        SimConfig, _simulate,
        choices={"strategies": Choices(static=tuple(simulation_strategies())),
                 "pool": _VIEWS, "val": _VIEWS},
        hidden=("overrides",), long=True, summary=simulation_summary))
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
