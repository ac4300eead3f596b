"""``workbench db``: a MongoDB replica set on this machine for the store (start, stop, status).

For trying the store on a replica set (and for the tests): ``workbench db start-replset DIR``
starts one with FiftyOne's own ``mongod``; ``workbench init --database-uri URI`` puts a
workspace on it; ``workbench db stop DIR`` stops it. The library calls are in
:mod:`workbench.curation.replica`, the processes in :mod:`workbench.store.replset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workbench.cli.common import JsonOpt, Stage, out, print_json, spinner

db_app = typer.Typer(
    help="A MongoDB replica set on this machine for workspaces: start-replset, stop, status. "
         "Production sets are run by your database team; give their URI to `workbench init "
         "--database-uri`.",
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(
    help="The set's folder: member-<i> data folders (each with its mongod.log) and "
         "replset.json (URI, ports, pids).")]


@db_app.command("start-replset")
def start_replset(
    directory: DirArg,
    members: Annotated[int, typer.Option(
        min=1, max=7, help="Number of mongod members (3 keeps a primary when one dies).")] = 3,
    name: Annotated[str, typer.Option(help="Replica set name (replicaSet= in the URI).")]
    = "rs0",
    cache_gb: Annotated[float, typer.Option(
        min=0.25, help="WiredTiger cache of each member, GB (they share this machine).")]
    = 0.25,
    json_: JsonOpt = False,
) -> None:
    """Start a replica set of mongod processes on 127.0.0.1 (free ports) and wait for a primary.

    Run again on the same folder, it restarts the members that are down (a killed member
    re-joins). Prints the URI for `workbench init --database-uri`.
    """
    from workbench.curation.replica import start_replset as run_start

    with spinner(json_, f"starting a {members}-member replica set in {directory} ..."):
        result = run_start(directory, members=members, name=name, cache_gb=cache_gb)
    if json_:
        print_json(result.to_dict())
        return
    _print_members(result.to_dict())
    out.print(f"uri: [bold]{result.uri}[/]")
    out.print(f'next: workbench init WORKSPACE --database-uri "{result.uri}"; '
              f"stop it with: workbench db stop {directory}")


@db_app.command("stop")
def stop(
    directory: DirArg,
    timeout: Annotated[float, typer.Option(
        min=0, help="Seconds each member gets to shut down cleanly before it is killed.")]
    = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Stop the replica set in DIR: a clean shutdown, then kill after --timeout.

    Idempotent: nothing running is fine. The folder is kept, so start-replset on it brings the
    same set back.
    """
    from workbench.curation.replica import stop_replset

    result = stop_replset(directory, timeout=timeout)
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"stopped {len(result.stopped)} member(s)" if result.stopped else "not running")


@db_app.command("status")
def status(directory: DirArg, json_: JsonOpt = False) -> None:
    """Members of the replica set in DIR: port, pid, running or not, primary or secondary."""
    from workbench.curation.replica import replset_status

    result = replset_status(directory)
    if json_:
        print_json(result.to_dict())
        return
    _print_members(result.to_dict())
    out.print(f"uri: {result.uri}")


def _print_members(report: dict[str, Any]) -> None:
    table = Table(title=f"replica set {report['name']}")
    for col in ("member", "host", "pid", "state", "log"):
        table.add_column(col)
    for m, state in zip(report["members"], report["states"], strict=True):
        state = state or ("running" if m["alive"] else "down")
        table.add_row(str(m["index"]), m["host"], str(m["pid"] if m["alive"] else "-"), state,
                      m["log"])
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group (``start-replset``, ``stop``, ``status``)."""
    app.add_typer(db_app, name="db", rich_help_panel=Stage.WORKSPACE.value)
