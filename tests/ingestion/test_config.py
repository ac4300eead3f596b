"""IngestConfig holds the ingest's defaults and rules; the CLI reads them and the registry."""

from __future__ import annotations

import dataclasses

import pytest
import typer.main

from workbench.cli.main import app
from workbench.errors import ConfigError, UnknownNameError
from workbench.ingestion.api import SOURCES, IngestConfig
from workbench.ingestion.api import ingest as api_ingest


def _params(command: str) -> dict[str, typer.core.click.Parameter]:
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params}


def test_unknown_format_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        IngestConfig(path="x", format="kitti")
    assert info.value.valid == sorted(SOURCES.names())


def test_format_help_names_every_registered_format() -> None:
    help_text = _params("ingest")["format"].help or ""
    for name in SOURCES.names():
        assert name in help_text
    assert help_text.startswith("yolo (data.yaml or its folder) | coco (JSON)")


@pytest.mark.parametrize(("option", "field"), [
    ("source", "source"), ("unlabeled", "unlabeled"), ("skip_bad", "skip_bad"),
    ("add_classes", "add_classes"), ("images", "images_dir"),
    ("max_skipped", "max_skipped_share")])
def test_cli_defaults_are_the_config_defaults(option: str, field: str) -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(IngestConfig)}
    assert _params("ingest")[option].default == defaults[field]


def test_api_ingest_needs_a_format_or_a_config() -> None:
    with pytest.raises(ConfigError, match="needs a format"):
        api_ingest(None, "somewhere")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        api_ingest(None, IngestConfig(path="x", format="yolo"), "coco")  # type: ignore[arg-type]
