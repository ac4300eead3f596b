"""``import workbench as wb``: one function per CLI command, lazy imports."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import typer

import workbench as wb
from workbench.cli.main import build_app

#: Commands reached through an option rather than a subcommand.
OPTION_COMMANDS = {"loop --simulate", "train --sizes", "ensemble --runs"}


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


@pytest.mark.integration
def test_a_round_through_the_facade(workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ingest -> split -> status -> predictions import -> select -> annotate export, keywords
    only, on the real mongod; results are the capabilities' own."""
    import json
    import shutil

    from tests.conftest import demo_images, make_yolo

    labeled = make_yolo(tmp_path / "yolo", {"train": demo_images("train", 6),
                                            "val": demo_images("valid", 3)})
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("train", 14)[6:]:
        shutil.copy(p, pool / p.name)
    ws = workspace
    added = wb.ingest(ws, labeled, format="yolo", add_classes=True)
    assert added.added == 9
    assert wb.ingest(ws, pool, "images").added == 8
    wb.split(ws, seed=0)
    assert wb.status(ws)["splits"]["pool"]["samples"] == 8
    assert [r["kind"] for r in wb.runs(ws).to_dict()["runs"]] == ["ingest", "ingest", "split"]
    lines = [json.dumps({"filepath": str(pool / p.name), "detections": [
        {"label": ws.classes[0], "box": [0.1, 0.1, 0.2, 0.2], "confidence": c,
         "class_probs": [c] + [(1 - c) / (len(ws.classes) - 1)] * (len(ws.classes) - 1)}]})
        for p, c in zip(sorted(pool.iterdir()), np.linspace(0.3, 0.99, 8), strict=True)]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    assert wb.import_predictions(ws, path=preds, run="p1").boxes == 8
    dry = wb.select(ws, n=3, strategy="least-confidence", dry_run=True)
    assert dry.dry_run and dry.selected == 3
    chosen = wb.select(ws, wb.SelectConfig(n=3, strategy="least-confidence"))
    assert chosen.sample_ids == dry.sample_ids
    package = wb.annotate_export(ws, out=tmp_path / "round-1.zip", thumbnails=False)
    assert package.to_dict()["images"] == 3
    assert (tmp_path / "round-1.zip").is_file()
