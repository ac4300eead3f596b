"""Loop configs: shared defaults come from training / annotation / selection, rules hold."""

from __future__ import annotations

import pytest

from workbench.annotation.api import PackageConfig
from workbench.cli.common import default
from workbench.errors import ConfigError
from workbench.loop.api import NextConfig, NextResult, SimConfig, StatusResult
from workbench.selection.api import STRATEGIES
from workbench.training.api import TrainConfig


def test_next_defaults_follow_training_and_annotation() -> None:
    cfg = NextConfig()
    for name in ("model", "imgsz", "epochs", "batch", "val", "allow_missing_classes"):
        assert getattr(cfg, name) == getattr(TrainConfig(), name)
    assert cfg.train_view == TrainConfig().view
    assert cfg.pre_annotation_conf == default(PackageConfig, "pre_annotation_conf")
    with pytest.raises(ConfigError, match="use package or labelstudio"):
        NextConfig(backend="zip")


def test_simulation_strategies_come_from_the_registry() -> None:
    for name in STRATEGIES.names(multi_run=False, hand_picked=False):
        SimConfig(strategies=(name, "random"))
    with pytest.raises(ConfigError, match="unknown strategies"):
        SimConfig(strategies=("hand-picked", "random"))
    with pytest.raises(ConfigError, match="unknown strategies"):
        SimConfig(strategies=("ensemble-disagreement", "random"))
    with pytest.raises(ConfigError, match="must include random"):
        SimConfig(strategies=("entropy",))


def test_results_give_todays_json() -> None:
    common = {"round": "r1", "selected": 3, "strategy": "entropy", "model_run": "t",
              "model_reused": False, "map50": 0.5, "prediction_run": "p"}
    package = NextResult(**common, package="a.zip", next="go").to_dict()
    assert list(package) == [*common, "package", "next"]
    pushed = NextResult(**common, project_url="http://x", next="go").to_dict()
    assert list(pushed) == [*common, "project_url", "next"]
    assert "plot" not in StatusResult(0, [], []).to_dict()
    assert StatusResult(0, [], [], plot="p.png").to_dict()["plot"] == "p.png"
