"""The assembled CLI: every capability registers its commands, grouped by stage in work order."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from workbench.cli.common import Stage
from workbench.cli.main import CAPABILITIES, StagedGroup, build_app


def test_help_lists_commands_by_stage_in_the_order_of_the_work() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert result.exit_code == 0
    text = result.output
    panels = [text.index(f"─ {s.value} ") for s in Stage]
    assert panels == sorted(panels), "stages out of order"
    order = ["init", "status", "runs", "app", "ingest", "split", "check", "train", "evaluate",
             "predict", "predictions", "select", "annotate", "loop", "export", "benchmark",
             "toolchain"]
    positions = [text.index(f"│ {name} ") for name in order]
    assert positions == sorted(positions)


def test_every_capability_registers_something() -> None:
    import importlib

    import typer

    for name in CAPABILITIES:
        app = typer.Typer(cls=StagedGroup)
        importlib.import_module(f"workbench.{name}.cli").register(app)
        assert app.registered_commands or app.registered_groups, name


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = ("import sys; from workbench.cli.main import main; sys.argv = ['workbench', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('fiftyone', 'torch', 'ultralytics', 'pymongo', 'cv2', "
            "'matplotlib', 'onnxruntime') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
