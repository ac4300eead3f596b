"""Public helpers shared by every capability's commands: consoles, common options, output.

Capabilities import these names (never private ones) in their ``cli.py``; nothing here imports
a capability, so the CLI has no import cycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="WORKBENCH_WORKSPACE",
                 help="Workspace folder (holds workbench.yaml).", show_default="current folder"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


class Stage(StrEnum):
    """The stages of the work; ``workbench --help`` groups commands under them, in this order."""

    WORKSPACE = "Workspace"
    DATA = "Data"
    MODEL = "Model"
    SELECTION = "Selection"
    ANNOTATION = "Annotation"
    LOOP = "Loop"
    DEPLOYMENT = "Deployment"


def default(config: type, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``config``.

    CLI options take their defaults from the capability's config dataclass through this, so a
    default is written once, in the config.

    Raises:
        KeyError: the dataclass has no such field or the field has no default.
    """
    for f in dataclasses.fields(config):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(f"{config.__name__}.{name} has no default")


def choices_help(entries: Any, first: str, lead: str = "") -> str:
    """``lead`` then ``name (default): help | name: help`` of a registry's entries (``first``
    marked as the default; markup in the help texts, such as ``ray[data]``, is escaped)."""
    from rich.markup import escape

    return lead + " | ".join(
        f"{e.name}{' (default)' if e.name == first else ''}: {escape(e.meta['help'])}"
        for e in entries)


#: ``--address`` of the commands with ``--engine ray`` (default None: a Ray started here).
RayAddressOpt = Annotated[str | None, typer.Option(
    "--address",
    help="Ray cluster (--engine ray): auto (the one `ray start` runs on this machine), "
         "HOST:PORT (the head node's GCS port) or ray://HOST:PORT (Ray Client). Default: a Ray "
         "instance started on this machine for the command. Images and the workspace must be "
         "at the same paths on every node.", show_default="local Ray")]
#: ``--workers`` of the commands with ``--engine ray`` (default None: one per CPU or GPU).
RayWorkersOpt = Annotated[int | None, typer.Option(
    "--workers",
    help="Ray actors, one model each (--engine ray): one CPU each, or one GPU each with "
         "--device N (predict: with --backend ultralytics).",
    show_default="one per CPU (GPU) of the cluster")]


def open_workspace(path: Path) -> Workspace:
    """Open the workspace of ``--workspace`` (imports the store only when a command runs)."""
    from workbench.store.workspace import open_workspace as open_ws

    return open_ws(path)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (the only thing ``--json`` prints there)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def spinner(json_: bool, message: str) -> contextlib.AbstractContextManager[Any]:
    """A status spinner on stderr, or nothing with --json."""
    return contextlib.nullcontext() if json_ else err.status(message)


def print_issues(issues: list[Any], per_kind: int = 5) -> None:
    """Counts per kind plus the first few examples with file and line."""
    if not issues:
        return
    by_kind: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for issue in issues:
        by_kind[(issue.severity, issue.kind)].append(issue)
    for (severity, kind), items in sorted(by_kind.items()):
        color = "red" if severity == "error" else "yellow"
        err.print(f"[{color}]{severity}[/] {kind}: {len(items)}")
        for issue in items[:per_kind]:
            err.print(f"  {issue.where()}: {issue.message}", markup=False, highlight=False)
        if len(items) > per_kind:
            err.print(f"  ... and {len(items) - per_kind} more (--json lists all)")


@contextlib.contextmanager
def input_report(json_: bool) -> Iterator[None]:
    """On a validation failure, print its full report (JSON or issue list), then re-raise."""
    from workbench.errors import InputReportError

    try:
        yield
    except InputReportError as exc:
        if json_:
            print_json(exc.result.to_dict())
        else:
            print_issues(exc.result.issues)
        raise


@contextlib.contextmanager
def epoch_progress(quiet: bool) -> Iterator[Any]:
    """A progress bar over training epochs (stderr); yields the trainer's callback or None."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task("training", total=None, info="")

        def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
            progress.update(task, total=total, completed=epoch,
                            description=f"epoch {epoch}/{total}",
                            info=f"mAP50 {metrics.get('metrics/mAP50(B)', 0.0):.3f}")

        yield on_epoch


@contextlib.contextmanager
def progress_bar(quiet: bool, what: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar with ETA on stderr; yields ``update(done, total, description)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err,
                  disable=quiet) as progress:
        task = progress.add_task(what, total=None)
        yield lambda done, total, text: progress.update(task, completed=done, total=total,
                                                        description=text)
