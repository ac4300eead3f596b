"""FiftyOne App operators for workbench, generated from the capabilities' operator specs.

Each capability describes its operators in its ``ui`` module (:mod:`workbench.ui.catalog`): the
config dataclass (the form: types, defaults, descriptions), the library call, and where the
value lists come from (registries, the workspace's runs / rounds / views / classes). This file
only turns a spec into a FiftyOne operator: no choice, default or call is written here.
"""

from __future__ import annotations

from typing import Any

import fiftyone.operators as foo
import fiftyone.operators.types as types

import workbench.ui.api as app
from workbench.errors import WorkbenchError
from workbench.ui.api import (
    FieldSpec,
    OperatorSpec,
    error_markdown,
    operators,
    run_operator,
    summary_markdown,
)

from .panels import PANELS


def _input(inputs: Any, field: FieldSpec) -> None:
    """Add one form field to ``inputs`` (a ``types.Object``)."""
    common: dict[str, Any] = {"label": field.label, "description": field.description,
                              "required": field.required}
    if field.default is not None and field.kind not in ("mapping", "json"):
        common["default"] = field.default
    if field.kind == "enum" and field.other:
        view = types.AutocompleteView(allow_user_input=True)
        for value in field.choices:
            view.add_choice(value, label=value)
        inputs.str(field.name, view=view, **common)
    elif field.kind == "enum":
        inputs.enum(field.name, list(field.choices), view=types.DropdownView(), **common)
    elif field.kind == "list" and field.choices:
        view = types.AutocompleteView(allow_user_input=field.other, multiple=True)
        for value in field.choices:
            view.add_choice(value, label=value)
        inputs.list(field.name, types.String(), view=view, **common)
    elif field.kind == "bool":
        inputs.bool(field.name, view=types.CheckboxView(), **common)
    elif field.kind == "int":
        inputs.int(field.name, **common)
    elif field.kind == "float":
        inputs.float(field.name, **common)
    else:  # str, list of free values, numbers, mapping, json: typed as text
        if field.kind in ("list", "numbers") and isinstance(common.get("default"), list):
            common["default"] = ", ".join(str(v) for v in common["default"])
        hint = {"list": " (comma-separated)", "numbers": f" ({field.size} numbers)",
                "mapping": " (NAME=VALUE, comma-separated)", "json": " (JSON object)"}
        common["description"] = (field.description + hint.get(field.kind, "")).strip()
        inputs.str(field.name, **common)


class WorkbenchOperator(foo.Operator):
    """An operator made from an :class:`~workbench.ui.operators.OperatorSpec` (``spec``)."""

    spec: OperatorSpec

    @property
    def config(self) -> foo.OperatorConfig:
        spec = self.spec
        return foo.OperatorConfig(
            name=spec.name, label=spec.label, description=spec.description,
            dynamic=spec.config is not None, allow_immediate_execution=True,
            allow_delegated_execution=spec.long, default_choice_to_delegated=spec.long)

    def resolve_input(self, ctx: Any) -> types.Property:
        inputs = types.Object()
        inputs.md(self.spec.description, name="about")
        if self.spec.config is None:
            return types.Property(inputs)
        ws = app.workspace_for_dataset(ctx.dataset)
        form = self.spec.form(ws)
        for field in form:
            _input(inputs, field)
        if self.spec.from_selection is not None:
            inputs.md(f"**{len(ctx.selected or [])} images selected** in the App.",
                      name="selection")
        problem = self._problem(form, ctx.params, list(ctx.selected or []))
        if problem:
            inputs.view("problem", types.Error(label="Cannot run yet", description=problem))
        return types.Property(inputs, view=types.View(label=self.spec.label))

    def _problem(self, form: list[FieldSpec], params: dict[str, Any], selected: list[str]
                 ) -> str | None:
        """Why the filled-in form would be refused (checked as the CLI checks), or None."""
        if self.spec.config is None or any(
                f.required and params.get(f.name) in (None, "", []) for f in form):
            return None  # the App marks the missing required fields itself
        try:
            self.spec.build(params, selected, form)
        except WorkbenchError as exc:
            return str(exc)
        return None

    def resolve_delegation(self, ctx: Any) -> bool | None:
        return None  # the user chooses; long work defaults to delegated

    def execute(self, ctx: Any) -> dict[str, Any]:
        ws = app.workspace_for_dataset(ctx.dataset)

        def report(fraction: float, label: str) -> None:
            if ctx.delegated:
                ctx.set_progress(progress=min(max(fraction, 0.0), 1.0), label=label)

        try:
            result = run_operator(self.spec, ws, dict(ctx.params), report,
                                  selected=list(ctx.selected or []))
        except WorkbenchError as exc:
            if ctx.delegated:
                raise
            return {"ok": False, "summary": error_markdown(exc)}
        if not ctx.delegated:
            ctx.trigger("reload_dataset")
            opens = self.spec.opens(result) if self.spec.opens else None
            if opens:
                ctx.ops.set_view(view=app.spec_view(ctx.dataset, opens))
        return {"ok": True, "summary": summary_markdown(self.spec, result), "result": result}

    def resolve_output(self, ctx: Any) -> types.Property:
        outputs = types.Object()
        outputs.md(str((ctx.results or {}).get("summary", "")), name="summary")
        return types.Property(outputs, view=types.View(label=self.spec.label))


def operator_class(spec: OperatorSpec) -> type[WorkbenchOperator]:
    """The FiftyOne operator class of ``spec``."""
    name = "".join(part.capitalize() for part in spec.name.split("_"))
    return type(name, (WorkbenchOperator,), {"spec": spec, "__doc__": spec.description})


OPERATORS = [operator_class(entry.value) for entry in operators()]


def register(plugin: Any) -> None:
    """FiftyOne's plugin entry point: every workbench operator and panel."""
    for cls in [*OPERATORS, *PANELS]:
        plugin.register(cls)
