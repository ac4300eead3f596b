"""``loop --simulate --train-arg KEY=VALUE`` parsing."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.loop.cli import _train_args


def test_train_args_are_typed_yaml_scalars() -> None:
    assert _train_args(["lr0=0.002", "mosaic=0", "val=true", "optimizer=SGD"]) == {
        "lr0": 0.002, "mosaic": 0, "val": True, "optimizer": "SGD"}
    assert _train_args(None) == {}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        _train_args(["lr0"])
