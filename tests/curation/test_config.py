"""The curation configs hold the defaults and rules; ``runs --kind`` lists every run kind."""

from __future__ import annotations

import pytest
import typer.main

from workbench.cli.main import app
from workbench.curation.api import RUN_KINDS, RunsConfig, SplitConfig
from workbench.errors import ConfigError, UnknownNameError
from workbench.store.runs import RunKind


def _help(command: str, option: str) -> str:
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    return next(p.help for p in cmd.params if p.name == option) or ""


def test_runs_kind_help_lists_every_run_kind() -> None:
    assert set(RUN_KINDS) == {k.value for k in RunKind}
    text = _help("runs", "kind")
    for kind in RunKind:
        assert kind.value in text


def test_unknown_run_kind_lists_the_kinds() -> None:
    with pytest.raises(UnknownNameError) as info:
        RunsConfig(kind="training")
    assert "train" in info.value.valid and "benchmark" in info.value.valid
    assert RunsConfig(kind="annotate-push").kind == "annotate-push"


@pytest.mark.parametrize(("ratios", "expected"), [
    ("0.5,0.25,0.25", (0.5, 0.25, 0.25)), ((0.6, 0.2, 0.2), (0.6, 0.2, 0.2)), (None, None)])
def test_split_ratios_are_parsed_once(ratios: object, expected: object) -> None:
    assert SplitConfig(ratios=ratios).ratios == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {"ratios": "0.5,0.5"}, {"ratios": "a,b,c"}, {"ratios": (0.5, 0.5, 0.5)},
    {"group_by": "tags"}, {"group_by": "_id"}, {"group_by": "ground_truth"}])
def test_split_config_refuses(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SplitConfig(**kwargs)  # type: ignore[arg-type]
