"""FiftyOne App operators for workbench. Thin: each calls one library function."""

from __future__ import annotations

from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types


def _workspace(ctx: Any) -> Any:
    import workbench

    root = (ctx.dataset.info or {}).get("workbench_workspace")
    if not root:
        raise ValueError("this dataset was not created by `workbench init`")
    ws = workbench.open_workspace(root)
    ws.__dict__["dataset"] = ctx.dataset
    return ws


class WorkspaceStatus(foo.Operator):
    """Show the workspace's counts per split, status, source and class."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(name="workspace_status", label="Workbench: workspace status")

    def execute(self, ctx: Any) -> dict[str, Any]:
        import workbench

        report = workbench.status(_workspace(ctx))
        return {k: report[k] for k in ("samples", "boxes", "splits", "status", "sources",
                                       "classes")}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.int("samples", label="Samples")
        outputs.int("boxes", label="Boxes")
        for key in ("splits", "status", "sources", "classes"):
            outputs.obj(key, label=key.capitalize(), view=types.JSONView())
        return types.Property(outputs)


class SelectRound(foo.Operator):
    """Queue the most uncertain pool images as a new round (``workbench select``)."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(name="select_round", label="Workbench: select a round",
                                  dynamic=False)

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.int("n", label="Images to select", default=100, required=True)
        inputs.enum("strategy", ["entropy", "margin", "least-confidence", "random"],
                    default="entropy", label="Strategy")
        inputs.str("run", label="Prediction run (default: latest)", required=False)
        inputs.str("round", label="Round name (default: round-K)", required=False)
        return types.Property(inputs)

    def execute(self, ctx: Any) -> dict[str, Any]:
        from workbench.selection import SelectConfig, select

        p = ctx.params
        result = select(_workspace(ctx), SelectConfig(
            n=int(p["n"]), strategy=p.get("strategy", "entropy"), run=p.get("run") or None,
            round=p.get("round") or None))
        ctx.trigger("reload_dataset")
        return {"round": result.round, "selected": result.selected,
                "warnings": "; ".join(result.warnings)}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.str("round", label="Round")
        outputs.int("selected", label="Selected")
        outputs.str("warnings", label="Warnings")
        return types.Property(outputs)


def register(plugin: Any) -> None:
    """FiftyOne's plugin entry point."""
    plugin.register(WorkspaceStatus)
    plugin.register(SelectRound)
