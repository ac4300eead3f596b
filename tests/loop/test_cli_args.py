"""``loop --simulate --train-arg KEY=VALUE`` parsing."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.loop.config import parse_train_args


def test_train_args_are_typed_yaml_scalars() -> None:
    assert parse_train_args(["lr0=0.002", "mosaic=0", "val=true", "optimizer=SGD"]) == {
        "lr0": 0.002, "mosaic": 0, "val": True, "optimizer": "SGD"}
    assert parse_train_args(None) == {}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_train_args(["lr0"])
