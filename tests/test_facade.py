"""``import workbench as wb``: one function per CLI command, lazy imports."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from typing import Any

import pytest
import typer

import workbench as wb
from workbench.cli.main import build_app

#: Commands reached through an option rather than a subcommand.
OPTION_COMMANDS = {"loop --simulate", "train --sizes"}


def _leaf_commands(group: Any, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if getattr(command, "commands", None):
            names |= _leaf_commands(command, path + " ")
        else:
            names.add(path)
    return names


def test_every_cli_command_is_one_library_call() -> None:
    commands = _leaf_commands(typer.main.get_command(build_app()))
    assert commands | OPTION_COMMANDS == set(wb.COMMANDS)


@pytest.mark.parametrize("name", sorted(wb._VERBS))
def test_every_verb_resolves_to_its_api(name: str) -> None:
    verb = wb._VERBS[name]
    assert verb.module.endswith(".api")
    module = importlib.import_module(verb.module)
    assert callable(getattr(module, verb.function))
    if verb.config:
        assert dataclasses.is_dataclass(getattr(module, verb.config))
    assert callable(getattr(wb, name))


@pytest.mark.parametrize("name", sorted(wb._NAMES))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(wb, name) is not None


def test_keywords_build_the_config_and_call_arguments_pass_through(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.training.api as training

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(training, "train", lambda ws, config, on_epoch=None: calls.append(
        (ws, config, on_epoch)))
    marker = object()
    wb.train("WS", epochs=3, imgsz=224, on_epoch=marker)
    ws, config, on_epoch = calls[0]
    assert (ws, on_epoch) == ("WS", marker)
    assert isinstance(config, training.TrainConfig)
    assert (config.epochs, config.imgsz) == (3, 224)
    assert config.batch == training.TrainConfig().batch  # the config's own default
    given = training.TrainConfig(epochs=7)
    wb.train("WS", given)
    assert calls[1][1] is given


def test_a_positional_value_that_is_not_the_config_is_refused() -> None:
    with pytest.raises(TypeError, match="SelectConfig"):
        wb.select("WS", 200)


def test_import_workbench_stays_light() -> None:
    code = ("import sys, workbench; heavy = [m for m in ('fiftyone', 'torch', 'pymongo', "
            "'ultralytics') if m in sys.modules]; print(heavy); assert not heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
