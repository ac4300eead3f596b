"""The rules of ``workbench mine``'s options (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.errors import ConfigError
from workbench.mining.config import MineConfig


@pytest.mark.parametrize(("options", "message"), [
    ({"run": ""}, "give --run"),
    ({"fp_conf": 1.5}, "--fp-conf"),
    ({"iou": 0.0}, "--iou"),
    ({"similar": -1}, "--similar"),
    ({"per_iteration": -2}, "--per-iteration"),
    ({"per_pass": [3, -1]}, "--per-pass"),
    ({"iterations": -1}, "--iterations"),
    ({"epochs": 0}, "--epochs"),
    ({"imgsz": 100}, "multiple of 32"),
    ({"choose": "easiest"}, "--choose"),
    ({"choose": "random"}, "--negatives"),
    ({"choose": "random", "negatives": "tag:negative"}, "--per-iteration N or --per-pass"),
    ({"iterations": 2}, "--negatives"),
])
def test_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("-", r"\-")):
        MineConfig(**{"run": "r", **options})


def test_per_pass_overrides_per_iteration_for_its_passes() -> None:
    cfg = MineConfig(run="r", negatives="tag:negative", per_iteration=20, per_pass=[7, 4],
                     iterations=3)
    assert [cfg.negatives_of_pass(i) for i in range(4)] == [7, 4, 20, 20]
