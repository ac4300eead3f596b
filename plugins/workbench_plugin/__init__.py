"""FiftyOne App operators for workbench. Thin: each calls one library function.

Operators reach workbench only through its public API (``workbench`` and the capabilities'
``api`` modules); choice lists and defaults come from the registries and config dataclasses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

import workbench
import workbench.annotation.api as annotation
import workbench.curation.api as curation
import workbench.selection.api as selection
import workbench.ui.api as app
from workbench.errors import InputReportError


def _workspace(ctx: Any) -> workbench.Workspace:
    """The workspace of the App's dataset (``workbench init`` records its folder there).

    Uses the dataset the App already has loaded, on the App's own database connection.
    """
    return app.workspace_for_dataset(ctx.dataset)


def _default(config: type, name: str) -> Any:
    """The default of field ``name`` of the config dataclass ``config``."""
    for f in dataclasses.fields(config):
        if f.name == name and f.default is not dataclasses.MISSING:
            return f.default
    raise KeyError(f"{config.__name__}.{name} has no default")


class WorkspaceStatus(foo.Operator):
    """Show the workspace's counts per split, status, source and class."""

    @property
    def config(self) -> foo.OperatorConfig:
        return foo.OperatorConfig(name="workspace_status", label="Workbench: workspace status")

    def execute(self, ctx: Any) -> dict[str, Any]:
        report = curation.status(_workspace(ctx)).to_dict()
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
        inputs.enum("strategy", selection.STRATEGIES.names(),
                    default=_default(selection.SelectConfig, "strategy"), label="Strategy")
        inputs.str("run", label="Prediction run (default: latest)", required=False)
        inputs.str("round", label="Round name (default: round-K)", required=False)
        return types.Property(inputs)

    def execute(self, ctx: Any) -> dict[str, Any]:
        p = ctx.params
        result = selection.select(_workspace(ctx), selection.SelectConfig(
            n=int(p["n"]),
            strategy=p.get("strategy") or _default(selection.SelectConfig, "strategy"),
            run=p.get("run") or None, round=p.get("round") or None))
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
        inputs.float("pre_annotation_conf", label="Pre-annotation confidence",
                     default=_default(annotation.PackageConfig, "pre_annotation_conf"))
        return types.Property(inputs)

    def execute(self, ctx: Any) -> dict[str, Any]:
        p = ctx.params
        conf = p.get("pre_annotation_conf")
        result = annotation.export_package(_workspace(ctx), annotation.PackageConfig(
            out=Path(p["out"]), round=p.get("round") or None,
            pre_annotations=p.get("pre_annotations") or None,
            pre_annotation_conf=float(conf) if conf is not None
            else _default(annotation.PackageConfig, "pre_annotation_conf")))
        ctx.trigger("reload_dataset")
        return {"path": result.path, "images": result.images, "package_id": result.package_id}

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
        p = ctx.params
        try:
            result = annotation.import_annotations(_workspace(ctx), annotation.ImportConfig(
                path=Path(p["path"]), package=Path(p["package"]) if p.get("package") else None,
                dry_run=bool(p.get("dry_run", True))))
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
