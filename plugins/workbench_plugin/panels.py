"""The workbench's App panels: the export panel and the loop panel. Thin: the figures come from
``workbench.ui.api`` (:mod:`workbench.ui.panel_data`), the work is done by the ``wb_<verb>``
operators, which the panels open prefilled (``ctx.prompt``) so the user sees and can delegate
the run.
"""

from __future__ import annotations

from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

import workbench
import workbench.ui.api as app
from workbench.errors import WorkbenchError

#: The plugin's name in ``fiftyone.yml`` (used until FiftyOne sets ``plugin_name``).
PLUGIN = "@workbench/workbench"


def _workspace(ctx: Any) -> workbench.Workspace:
    """The workspace of the App's dataset."""
    return app.workspace_for_dataset(ctx.dataset)


def _read(ctx: Any, read: Any) -> dict[str, Any] | None:
    """``read(workspace)`` for a panel; None, with the message in the panel's state, when the
    workspace cannot be read."""
    try:
        return dict(read(_workspace(ctx)))
    except WorkbenchError as exc:
        ctx.panel.state.error = str(exc)
        return None


def _operator(panel: foo.Panel, verb: str) -> str:
    """The URI of the operator ``wb_<verb>`` of this plugin."""
    return f"{panel.plugin_name or PLUGIN}/wb_{verb}"


def _table(panel: types.Object, name: str, columns: list[tuple[str, str]], label: str) -> None:
    table = types.TableView()
    for key, title in columns:
        table.add_column(key, label=title)
    panel.list(name, types.Object(), view=table, label=label)


def _fmt(value: Any, fmt: str = ".4f") -> str:
    return "—" if value is None else format(value, fmt)


class ExportPanel(foo.Panel):
    """Export a training run to a device target, see the report and the trade-off plot."""

    @property
    def config(self) -> foo.PanelConfig:
        return foo.PanelConfig(name="wb_export_panel", label="Workbench: export",
                               icon="memory", help_markdown=(
                                   "Pick a training run and a target (Jetson TensorRT bundle, "
                                   "K210, K230, RKNN, ONNX, INT8); **Export** opens the "
                                   "`wb_export` operator prefilled (run it delegated for long "
                                   "exports). The report and the trade-off plot are read "
                                   "from the recorded exports and benchmarks."))

    # -- events --------------------------------------------------------------------------

    def on_load(self, ctx: Any) -> None:
        """Read runs, exports, targets, toolchains and the trade-off plot."""
        data = _read(ctx, app.export_panel_data)
        if data is None:
            return
        state = ctx.panel.state
        update: dict[str, Any] = {
            "error": None, "runs": data["runs"],
            "choices": {k: data[k] for k in ("targets", "platforms", "views", "missing")},
            "runs_table": [{"run": r["run"], "status": r["status"], "map50": _fmt(r["map50"]),
                            "exports": len(r["exports"])} for r in data["runs"]]}
        update.update({k: data["defaults"][k] for k in app.EXPORT_FORM_FIELDS
                       if state.get(k) is None and data["defaults"].get(k) is not None})
        runs = [r["run"] for r in data["runs"]]
        if state.run not in runs:
            update["run"] = runs[0] if runs else None
        state.set(update)
        ctx.panel.data.tradeoff = data["tradeoff"]
        self._show_run(ctx)

    def on_change_dataset(self, ctx: Any) -> None:
        """Another dataset: read everything again."""
        self.on_load(ctx)

    def refresh(self, ctx: Any) -> None:
        """The Refresh button (and what runs after a finished export)."""
        self.on_load(ctx)

    def on_change_run(self, ctx: Any) -> None:
        """A run was picked: list its exports and show the latest one's report."""
        ctx.panel.state.run = ctx.params.get("value") or ctx.panel.state.run
        ctx.panel.state.export = None
        self._show_run(ctx)

    def on_change_export(self, ctx: Any) -> None:
        """An export was picked: show its report."""
        ctx.panel.state.export = ctx.params.get("value") or ctx.panel.state.export
        self._show_report(ctx)

    def on_change_field(self, ctx: Any) -> None:
        """A form field changed (the App keeps its value in the state); render again."""

    def run_export(self, ctx: Any) -> None:
        """Open ``wb_export`` prefilled with the form (named as ExportConfig's fields)."""
        state = ctx.panel.state
        if not state.run:
            ctx.ops.notify("no training run to export", variant="warning")
            return
        try:
            params = app.export_params(state.run, {k: state.get(k)
                                                   for k in app.EXPORT_FORM_FIELDS})
        except WorkbenchError as exc:
            ctx.ops.notify(str(exc), variant="error")
            return
        ctx.prompt(_operator(self, "export"), params=params, on_success=self.refresh)

    # -- helpers -------------------------------------------------------------------------

    def _show_run(self, ctx: Any) -> None:
        state = ctx.panel.state
        run = next((r for r in state.runs or [] if r["run"] == state.run), None)
        exports = run["exports"] if run else []
        state.exports_table = [
            {"export_id": e["export_id"], "target": e["target"],
             "size_mb": _fmt(e["size_mb"], ".2f"), "map50": _fmt(e["map50"]),
             "map50_fp32": _fmt(e["map50_fp32"]), "cosine": _fmt(e["cosine"], ".5f"),
             "latency_ms": _fmt(e["simulator_ms"] if e["simulator_ms"] is not None
                                else e["latency_ms"], ".2f")} for e in exports]
        ids = [e["export_id"] for e in exports]
        if state.export not in ids:
            state.export = ids[-1] if ids else None
        self._show_report(ctx)

    def _show_report(self, ctx: Any) -> None:
        state = ctx.panel.state
        report = app.export_report(_workspace(ctx), state.export) if state.export else None
        state.report_text = report["markdown"] if report else "_No export of this run yet._"

    # -- layout --------------------------------------------------------------------------

    def render(self, ctx: Any) -> types.Property:
        panel = types.Object()
        state = ctx.panel.state
        panel.btn("refresh", label="Refresh", icon="refresh", on_click=self.refresh)
        if state.error:
            panel.view("error", types.Error(label="The workspace cannot be read",
                                            description=state.error))
            return types.Property(panel, view=types.GridView(orientation="vertical"))
        choices = state.choices or {}
        _table(panel, "runs_table", [("run", "Run"), ("status", "Status"), ("map50", "mAP50"),
                                     ("exports", "Exports")], "Training runs")
        runs = [r["run"] for r in state.runs or []]
        panel.enum("run", runs, label="Run to export", default=state.run,
                   on_change=self.on_change_run)
        self._render_form(panel, state, choices)
        _table(panel, "exports_table", [("export_id", "Export"), ("target", "Target"),
                                        ("size_mb", "MB"), ("map50", "mAP50"),
                                        ("map50_fp32", "FP32 mAP50"), ("cosine", "Cosine"),
                                        ("latency_ms", "ms/image")], "Exports of this run")
        exports = [r["export_id"] for r in state.exports_table or []]
        if exports:
            panel.enum("export", exports, label="Report of", default=state.export,
                       on_change=self.on_change_export)
        panel.md(state.report_text or "", name="report_md")
        panel.plot("tradeoff", layout=app.TRADEOFF_LAYOUT, label="Trade-off across exports")
        missing = choices.get("missing") or []
        if missing:
            panel.md("#### Missing toolchains\n\n" + "\n".join(
                f"- **{' / '.join(m['targets'])}**: {m['detail']}  \n  install: "
                f"`{m['install']}`" for m in missing), name="toolchains_md")
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2))

    def _render_form(self, panel: types.Object, state: Any, choices: dict[str, Any]) -> None:
        targets = {t["name"]: t for t in choices.get("targets") or []}
        dropdown = types.DropdownView()
        for name, t in targets.items():
            dropdown.add_choice(name, label=name, description=t["label"])
        panel.enum("target", list(targets), label="Target", view=dropdown,
                   default=state.target, on_change=self.on_change_field)
        spec = targets.get(state.target or "", {})
        if spec.get("platform"):
            panel.enum("platform", choices.get("platforms") or [], label="Rockchip platform",
                       default=state.platform, on_change=self.on_change_field)
        panel.enum("calibration", choices.get("views") or [], label="Calibration view",
                   default=state.calibration, on_change=self.on_change_field)
        panel.int("imgsz", label="Image size (empty: the size the model was trained at)",
                  on_change=self.on_change_field)
        if spec.get("memory_budget"):
            panel.float("max_model_mb", label="Model budget (MB)",
                        on_change=self.on_change_field)
            panel.float("max_memory_mb", label="Memory budget (MB)",
                        on_change=self.on_change_field)
        panel.float("max_drop", label="Most mAP50 points lost vs FP32",
                    on_change=self.on_change_field)
        panel.float("min_cosine", label="Least output cosine vs FP32",
                    on_change=self.on_change_field)
        panel.str("thresholds", label="Per-class thresholds: auto (the newest calibration of "
                  "this model), none, a calibration's name or a YAML/JSON file",
                  on_change=self.on_change_field)
        lacking = next((m for m in choices.get("missing") or []
                        if state.target in m["targets"]), None)
        if lacking:
            panel.view("toolchain_warning", types.Warning(
                label=f"The {state.target} toolchain is missing here",
                description=f"{lacking['detail']}. Install: {lacking['install']}"))
        panel.btn("run_export", label="Export…", icon="rocket_launch", variant="contained",
                  on_click=self.run_export, disabled=not state.run)


class LoopPanel(foo.Panel):
    """The active-learning loop: rounds, the learning curve, the queue and the next step."""

    @property
    def config(self) -> foo.PanelConfig:
        return foo.PanelConfig(name="wb_loop_panel", label="Workbench: loop", icon="loop",
                               help_markdown=(
                                   "Rounds with their selected / in-annotation / labeled "
                                   "images, the learning curve and buttons for the next "
                                   "step (each opens its operator prefilled)."))

    def on_load(self, ctx: Any) -> None:
        """Read the rounds, the queue and the learning curve."""
        data = _read(ctx, app.loop_panel_data)
        if data is None:
            return
        n = len(data["rounds"])
        ctx.panel.state.set({
            "error": None, "actions": data["actions"],
            "rounds_table": [{**r, "model_map50": _fmt(r["model_map50"])}
                             for r in data["rounds"]],
            "summary": (f"**{data['labeled_images']}** labeled images · "
                        f"**{data['queued']}** queued · **{data['in_annotation']}** in "
                        f"annotation · {n} round{'' if n == 1 else 's'}\n\n"
                        + app.loop_hint(data))})
        ctx.panel.data.curve = data["curve"]

    def on_change_dataset(self, ctx: Any) -> None:
        """Another dataset: read everything again."""
        self.on_load(ctx)

    def refresh(self, ctx: Any) -> None:
        """The Refresh button (and what runs after a finished step)."""
        self.on_load(ctx)

    def run_select(self, ctx: Any) -> None:
        """Open ``wb_select`` prefilled."""
        self._prompt(ctx, "select")

    def run_annotate_export(self, ctx: Any) -> None:
        """Open ``wb_annotate_export`` prefilled with the queued round."""
        self._prompt(ctx, "annotate_export")

    def run_loop_next(self, ctx: Any) -> None:
        """Open ``wb_loop_next`` prefilled."""
        self._prompt(ctx, "loop_next")

    def _prompt(self, ctx: Any, verb: str) -> None:
        self.on_load(ctx)  # the parameters of what the workspace holds now
        action = next((a for a in ctx.panel.state.actions or [] if a["verb"] == verb), None)
        ctx.prompt(_operator(self, verb), params=dict((action or {}).get("params") or {}),
                   on_success=self.refresh)

    def render(self, ctx: Any) -> types.Property:
        panel = types.Object()
        state = ctx.panel.state
        panel.btn("refresh", label="Refresh", icon="refresh", on_click=self.refresh)
        if state.error:
            panel.view("error", types.Error(label="The workspace cannot be read",
                                            description=state.error))
            return types.Property(panel, view=types.GridView(orientation="vertical"))
        panel.md(state.summary or "", name="summary_md")
        buttons = panel.h_stack("steps", gap=2)
        handlers = {"select": self.run_select, "annotate_export": self.run_annotate_export,
                    "loop_next": self.run_loop_next}
        for action in state.actions or []:
            buttons.btn(f"step_{action['verb']}", label=action["label"],
                        variant="contained" if action["recommended"] else "outlined",
                        on_click=handlers[action["verb"]])
        _table(panel, "rounds_table", [
            ("round", "Round"), ("strategy", "Strategy"), ("selected", "Selected"),
            ("queued", "Queued"), ("in_annotation", "In annotation"), ("labeled", "Labeled"),
            ("model_run", "Model"), ("model_map50", "Model mAP50")], "Rounds")
        panel.plot("curve", layout=app.CURVE_LAYOUT, label="Learning curve")
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2))


#: The panels this plugin registers (``plugin.register`` each, and list their ``config.name``
#: under ``panels:`` in ``fiftyone.yml``).
PANELS: list[type[foo.Panel]] = [ExportPanel, LoopPanel]
