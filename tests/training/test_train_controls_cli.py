"""``workbench train`` with training controls and critical classes, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.test_cli_e2e import wb
from tests.training.conftest import cli_workspace

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("stop_mongods")]


def test_controls_reach_ultralytics_and_the_run(tmp_path: Path) -> None:
    ws = cli_workspace(tmp_path)
    for args, message in [
        (["--critical", "nosuchclass", "--oversample", "3"],
         "--critical: unknown classes ['nosuchclass']; the workspace's classes are fish,"),
        (["--classes", "fish,nosuchclass"], "--classes: unknown classes ['nosuchclass']"),
        (["--oversample", "3"], "also pass --critical"),
        (["--augment", "wild"], "choose one of none | default | strong"),
        (["--optimizer", "Lion"], "--optimizer 'Lion' is unknown"),
        (["--lr0", "0.01"], "ignored by --optimizer auto"),
        (["--train-arg", "mosaic"], "expected KEY=VALUE"),
        (["--train-arg", "not_an_arg=1"], "'not_an_arg' is not a valid YOLO argument"),
    ]:
        proc = wb("train", *args, "--epochs", "1", "-w", ws, check=False)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    out = json.loads(wb(
        "train", "--model", "micro-relu", "--imgsz", "128", "--epochs", "1", "--batch", "8",
        "--run", "ctl", "--augment", "strong", "--multi-scale", "--optimizer", "AdamW",
        "--lr0", "0.003", "--critical", "fish", "--oversample", "2",
        "--train-arg", "close_mosaic=0", "--train-arg", "mixup=0.05", "-w", ws,
        "--json").stdout)
    assert out["run"] == "ctl" and out["train_images_repeated"] > 0
    assert out["train_images_after_repeats"] == out["train_images"] + out["train_images_repeated"]
    args = yaml.safe_load((Path(out["run_dir"]) / "args.yaml").read_text())
    assert (args["mosaic"], args["degrees"], args["scale"], args["hsv_s"]) == (1.0, 10.0, 0.7, 0.8)
    assert args["mixup"] == 0.05 and args["close_mosaic"] == 0  # --train-arg wins
    assert args["multi_scale"] == 0.5 and (args["optimizer"], args["lr0"]) == ("AdamW", 0.003)
    images = list((Path(out["dataset"]) / "images" / "train").iterdir())
    assert len(images) == out["train_images_after_repeats"]
    assert sum("__rep1" in p.name for p in images) == out["train_images_repeated"]
