"""``workbench ssl`` end to end as a user runs it (subprocesses, embedded mongod):
pretrain --json, train --model <checkpoint>, embed, select on the embeddings, probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli_e2e import wb
from tests.training.conftest import cli_workspace

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("stop_mongods")]


def test_pretrain_train_embed_probe_from_the_cli(tmp_path: Path) -> None:
    ws = cli_workspace(tmp_path, train=12, val=8)
    out = json.loads(wb("ssl", "pretrain", "--view", "split:train", "--model", "micro-relu",
                        "--imgsz", "64", "--epochs", "1", "--batch", "6", "--run", "s1",
                        "-w", ws, "--json").stdout)
    for key in ("run", "checkpoint", "epochs", "images", "seconds", "images_per_s",
                "final_loss"):
        assert key in out
    assert (out["run"], out["epochs"], out["images"]) == ("s1", 1, 12)
    more = json.loads(wb("ssl", "pretrain", "--run", "s1", "--resume", "--epochs", "2",
                         "-w", ws, "--json").stdout)
    assert more["epochs"] == 2 and more["resumed"]
    trained = json.loads(wb("train", "--model", out["checkpoint"], "--imgsz", "64",
                            "--epochs", "1", "--batch", "6", "--run", "t1", "-w", ws,
                            "--json").stdout)
    assert Path(trained["weights"]).is_file()
    emb = json.loads(wb("ssl", "embed", "--run", "s1", "-w", ws, "--json").stdout)
    assert emb["images"] == 20 and emb["embeddings_field"] == "emb_s1"
    probe = json.loads(wb("ssl", "probe", "--run", "s1", "--crop-size", "32", "-w", ws,
                          "--json").stdout)
    assert 0.0 <= probe["accuracy"] <= 1.0 and probe["val_boxes"] > 0
    bad = wb("ssl", "embed", "--run", "nope", "-w", ws, check=False)
    assert bad.returncode == 1 and "no pretraining run" in bad.stderr
    assert "Traceback" not in bad.stderr
