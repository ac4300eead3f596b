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
        from workbench.selection.select import SelectConfig, select

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


class ExportAnnotationPackage(foo.Operator):
    """Write a round's annotation package (``workbench annotate export``)."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(name="export_annotation_package",
                                  label="Workbench: export an annotation package", dynamic=False)

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.str("out", label="Package path (.zip)", required=True)
        inputs.str("round", label="Round (default: the latest)", required=False)
        inputs.str("pre_annotations", label="Prediction run for pre-annotations",
                   required=False)
        inputs.float("pre_annotation_conf", label="Pre-annotation confidence", default=0.25)
        return types.Property(inputs)

    def execute(self, ctx: Any) -> dict[str, Any]:
        from pathlib import Path

        from workbench.annotation.package import ExportConfig, export_package

        p = ctx.params
        result = export_package(_workspace(ctx), ExportConfig(
            out=Path(p["out"]), round=p.get("round") or None,
            pre_annotations=p.get("pre_annotations") or None,
            pre_annotation_conf=float(p.get("pre_annotation_conf", 0.25))))
        ctx.trigger("reload_dataset")
        return {"path": result["path"], "images": result["images"],
                "package_id": result["package_id"]}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.str("path", label="Package")
        outputs.int("images", label="Images")
        outputs.str("package_id", label="Package id")
        return types.Property(outputs)


class ImportAnnotations(foo.Operator):
    """Validate and import returned annotations (``workbench annotate import``)."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(name="import_annotations",
                                  label="Workbench: import annotations", dynamic=False)

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.str("path", label="Returned package or tool export", required=True)
        inputs.str("package", label="Package it answers (if not the package itself)",
                   required=False)
        inputs.bool("dry_run", label="Dry run (show the changes only)", default=True)
        return types.Property(inputs)

    def execute(self, ctx: Any) -> dict[str, Any]:
        from pathlib import Path

        from workbench.annotation.importer import import_annotations
        from workbench.errors import InputReportError

        p = ctx.params
        try:
            result = import_annotations(
                _workspace(ctx), Path(p["path"]),
                package=Path(p["package"]) if p.get("package") else None,
                dry_run=bool(p.get("dry_run", True)))
        except InputReportError as exc:
            problems = [f"{i.where()}: {i.message}" for i in exc.result.issues
                        if i.severity == "error"]
            return {"import_id": "", "images": 0, "boxes": 0,
                    "problems": "\n".join(problems[:20])}
        ctx.trigger("reload_dataset")
        return {"import_id": result.import_id, "images": result.images,
                "boxes": result.boxes, "problems": ""}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.str("import_id", label="Import (empty: dry run or refused)")
        outputs.int("images", label="Images changed")
        outputs.int("boxes", label="Boxes")
        outputs.str("problems", label="Problems (nothing was written)")
        return types.Property(outputs)


def register(plugin: Any) -> None:
    """FiftyOne's plugin entry point."""
    plugin.register(WorkspaceStatus)
    plugin.register(SelectRound)
    plugin.register(ExportAnnotationPackage)
    plugin.register(ImportAnnotations)
