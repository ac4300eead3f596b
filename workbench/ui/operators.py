"""What an App operator is, independent of FiftyOne: a spec the plugin turns into an operator.

Each capability describes its operators in its own ``ui`` module (``register(ops)``, read by
:mod:`workbench.ui.catalog`): the config dataclass whose fields make the form, the library call,
where the form's value lists come from, and whether the work is long (delegated by default, with
progress). :func:`run_operator` is what the operator's ``execute`` does, so it is tested without
the App.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.ui import choices as lists
from workbench.ui.forms import Choices, FieldSpec, build_config, form_fields

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

#: ``report(fraction in [0, 1], label)``: progress of a running operator.
Report = Callable[[float, str], None]
#: ``call(ws, config, report) -> result`` (a result with ``to_dict`` or a dataclass).
Call = Callable[["Workspace", Any, Report], Any]


def _no_report(fraction: float, label: str) -> None:
    """A :data:`Report` that drops the progress."""


def plain(fn: Callable[[Workspace, Any], Any],
          started: Callable[[Any], str] | None = None) -> Call:
    """A :data:`Call` of an api verb ``fn(ws, config)`` without progress of its own; with
    ``started``, reports ``started(config)`` as it begins (a long run shows what it does)."""
    def call(ws: Workspace, config: Any, report: Report) -> Any:
        if started is not None:
            report(0.0, started(config))
        return fn(ws, config)

    return call


@dataclass(frozen=True)
class OperatorSpec:
    """One App operator.

    Attributes:
        name: the operator's name (``wb_<verb>``), also its URI's last part.
        label: what the operator browser shows (``Workbench: ...``).
        description: one or two sentences: what it does and which CLI command it mirrors.
        config: the config dataclass whose fields are the form (None: no form).
        call: the library call.
        choices: field -> where its values come from (registries, workspace lists).
        hidden: config fields left at their defaults.
        fixed: config values set by the operator.
        long: long work (training, prediction, export): delegated by default, with progress.
        opens: result dict -> a view spec to open afterwards (``round:round-3``), or None.
        summary: result dict -> Markdown shown after the run (default: the result's
            ``markdown``, else a table of its figures).
        from_selection: the App's selected sample ids -> config values (an operator on what
            the user selected in the grid or lassoed in the Embeddings panel).
    """

    name: str
    label: str
    description: str
    config: type | None
    call: Call
    choices: dict[str, Choices] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    long: bool = False
    opens: Callable[[dict[str, Any]], str | None] | None = None
    summary: Callable[[dict[str, Any]], str] | None = None
    from_selection: Callable[[list[str]], dict[str, Any]] | None = None

    def sources(self) -> list[str]:
        """The workspace lists the form needs."""
        return sorted({c.source for c in self.choices.values() if c.source})

    def build(self, params: dict[str, Any], selected: list[str] | None = None,
              form: list[FieldSpec] | None = None) -> Any:
        """The config of the form's ``params`` (see :func:`_build`)."""
        return _build(self, params, selected, form)

    def form(self, ws: Workspace | None = None) -> list[FieldSpec]:
        """The form, with the workspace's lists when ``ws`` is given."""
        if self.config is None:
            return []
        values = lists.read(ws, self.sources()) if ws is not None else {}
        return form_fields(self.config, self.choices, self.hidden, values)


def _build(spec: OperatorSpec, params: dict[str, Any], selected: list[str] | None = None,
           form: list[FieldSpec] | None = None) -> Any:
    """The config of ``params`` with the operator's fixed values and the App's selection
    (None for an operator without a form).

    Raises:
        ConfigError: what the config refuses.
    """
    if spec.config is None:
        return None
    fixed = dict(spec.fixed)
    if spec.from_selection is not None:
        fixed.update(spec.from_selection(list(selected or [])))
    return build_config(spec.config, params, form if form is not None else spec.form(None),
                        fixed)


def result_dict(result: Any) -> dict[str, Any]:
    """A result as a JSON-ready dict (``to_dict`` where the result has one)."""
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return dict(result) if isinstance(result, dict) else {"result": result}


def run_operator(spec: OperatorSpec, ws: Workspace, params: dict[str, Any],
                 report: Report = _no_report, selected: list[str] | None = None
                 ) -> dict[str, Any]:
    """Build the config from ``params`` (checked as the CLI checks them) and run the call.

    Args:
        spec: the operator.
        ws: the workspace.
        params: the form's values.
        report: progress.
        selected: the App's selected sample ids (for ``spec.from_selection``).

    Raises:
        WorkbenchError: what the config or the call refuses (the operator shows the message).
    """
    return result_dict(spec.call(ws, spec.build(params, selected), report))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return f"{len(value)} items" if len(value) > 5 else ", ".join(map(str, value))
    if isinstance(value, dict):
        return f"{len(value)} entries"
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary_markdown(spec: OperatorSpec, result: dict[str, Any]) -> str:
    """The Markdown shown after ``spec`` ran: its own summary, the result's ``markdown``, or a
    table of the figures."""
    if spec.summary is not None:
        return spec.summary(result)
    if isinstance(result.get("markdown"), str):
        return str(result["markdown"])
    rows = [f"| {k} | {_cell(v)} |" for k, v in result.items()
            if v not in (None, "", [], {}) and not isinstance(v, dict)]
    return "\n".join([f"**{spec.label.removeprefix('Workbench: ')}**", "",
                      "| | |", "|---|---|", *rows])


def error_markdown(exc: BaseException) -> str:
    """What an operator shows when the library refused its input (nothing was written).

    The message, and for a validation report its first problems with where they are.
    """
    lines = [f"**Refused; nothing was written.** {exc}"]
    issues = getattr(getattr(exc, "result", None), "issues", None) or []
    problems = [i for i in issues if getattr(i, "severity", "error") == "error"]
    lines += [f"- {i.where()}: {i.message}" for i in problems[:20]]
    if len(problems) > 20:
        lines.append(f"- ... and {len(problems) - 20} more")
    return "\n".join(lines)
