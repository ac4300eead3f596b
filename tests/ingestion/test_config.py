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


@pytest.fixture
def prefix_format() -> object:
    """A format read from elsewhere (``demo:SPEC``), registered for one test."""
    def parse(path: object, options: object) -> object:
        raise AssertionError("not called")

    SOURCES.register("demo", parse, help="demo:SPEC", scheme=True, options=("limit",))
    yield parse
    del SOURCES._entries["demo"]


@pytest.mark.usefixtures("prefix_format")
def test_a_prefix_names_the_format_and_the_spec() -> None:
    config = IngestConfig(path="demo:Aurelia aurita,Bathochordaeus", limit=5)
    assert config.format == "demo" and config.spec() == "Aurelia aurita,Bathochordaeus"
    assert config.source_params() == {"limit": 5}
    assert IngestConfig(path="x", format="yolo").spec() is None


def test_without_format_or_prefix_the_error_says_what_to_give() -> None:
    with pytest.raises(ConfigError, match="give --format for data/x"):
        IngestConfig(path="data/x")
    with pytest.raises(ConfigError, match="give --format for yolo:x"):
        IngestConfig(path="yolo:x")  # yolo is not a prefix source


@pytest.mark.parametrize(("options", "message"), [
    ({"every": 2}, "--every is not an option of --format yolo"),
    ({"limit": 3}, "--limit is not an option of --format yolo"),
    ({"taxa_descendants": True}, "--taxa-descendants is not an option of --format yolo"),
])
def test_source_options_of_other_formats_are_refused(options: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IngestConfig(path="x", format="yolo", **options)  # type: ignore[arg-type]


@pytest.mark.usefixtures("prefix_format")
@pytest.mark.parametrize(("options", "message"), [
    ({"limit": 0}, "--limit must be at least 1"),
])
def test_source_option_values_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IngestConfig(path="demo:x", **options)  # type: ignore[arg-type]
