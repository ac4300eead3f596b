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


def register(plugin: Any) -> None:
    """FiftyOne's plugin entry point."""
    plugin.register(WorkspaceStatus)
