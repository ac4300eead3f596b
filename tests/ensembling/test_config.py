"""Ensemble options: every rule of the configs, the registries of methods and presets."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.ensembling.api import (
    METHODS,
    PRESETS,
    EnsembleConfig,
    EnsembleTrainConfig,
    parse_names,
    parse_weights,
)
from workbench.errors import ConfigError, UnknownNameError
from workbench.training.api import TrainConfig


@pytest.mark.parametrize(("options", "message"), [
    ({"runs": []}, "at least two"),
    ({"runs": ["a"]}, "at least two"),
    ({"runs": "a, ,"}, "at least two"),
    ({"runs": ["a", "a"]}, "more than once"),
    ({"runs": ["a", "b"], "weights": [1.0]}, "got 1 --weights for 2 --runs"),
    ({"runs": ["a", "b"], "weights": [1.0, -1.0]}, "finite, >= 0"),
    ({"runs": ["a", "b"], "weights": [0.0, 0.0]}, "not all 0"),
    ({"runs": ["a", "b"], "weights": [1.0, float("nan")]}, "finite"),
    ({"runs": ["a", "b"], "method": "vote"}, "valid fusion methods: nms, soft-nms, wbf"),
    ({"runs": ["a", "b"], "iou": 1.0}, "--iou"),
    ({"runs": ["a", "b"], "skip_conf": -0.1}, "--skip-conf"),
    ({"runs": ["a", "b"], "display_conf": 2.0}, "display_conf"),
    ({"runs": ["a", "b"], "run": "a"}, "named like its member"),
])
def test_fusion_options_are_refused_with_how_to_fix(options: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        EnsembleConfig(**options)


def test_fusion_options_are_normalised() -> None:
    config = EnsembleConfig(runs="a, b,c", weights=[2, 1, 1])  # type: ignore[arg-type]
    assert config.runs == ["a", "b", "c"]
    assert config.weights == [2.0, 1.0, 1.0]
    assert (config.method, config.view) == ("wbf", "all")
    assert parse_names(" x,,y ") == ["x", "y"]
    assert parse_weights("2, 1") == [2.0, 1.0] and parse_weights("") is None
    with pytest.raises(ConfigError, match="numbers like 2,1,1"):
        parse_weights("2,heavy")


def test_methods_are_the_registry() -> None:
    assert METHODS.names() == ["wbf", "nms", "soft-nms"]
    assert all(e.meta["help"] for e in METHODS)


def test_presets_are_valid_training_presets_with_an_operating_point() -> None:
    from workbench.training.augment import AUGMENT_PRESETS

    assert PRESETS.names() == ["recall", "balanced", "precision"]
    points = {e.name: (e.value.augment, e.value.conf) for e in PRESETS}
    assert points == {"recall": ("strong", 0.05), "balanced": ("default", 0.25),
                      "precision": ("none", 0.5)}
    for entry in PRESETS:
        assert entry.value.augment in AUGMENT_PRESETS and entry.meta["help"]


def test_member_training_options_come_from_the_preset() -> None:
    config = EnsembleTrainConfig(presets=["recall", "precision"], epochs=3, imgsz=160, seed=7)
    recall = config.member_train_config("recall")
    precision = config.member_train_config("precision")
    assert isinstance(recall, TrainConfig)
    assert (recall.augment, recall.overrides, recall.seed) == ("strong", {}, 7)
    assert (precision.augment, precision.overrides, precision.seed) == ("none",
                                                                         {"fliplr": 0.5}, 8)
    assert (recall.epochs, recall.imgsz, recall.view, recall.val) == (3, 160, "split:train",
                                                                      "split:val")
    defaults = EnsembleTrainConfig()
    assert defaults.presets == PRESETS.names()
    assert (defaults.model, defaults.epochs) == (TrainConfig().model, TrainConfig().epochs)


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"presets": []}, ConfigError, "give --preset"),
    ({"presets": ["recall", "greedy"]}, UnknownNameError, "unknown ensemble preset 'greedy'"),
    ({"presets": ["recall", "recall"]}, ConfigError, "more than once"),
    ({"presets": ["recall"], "predict": "pool"}, ConfigError, "at least two"),
    ({"method": "vote"}, UnknownNameError, "fusion method"),
    ({"backend": "tflite"}, UnknownNameError, "tflite"),
    ({"imgsz": 100}, ConfigError, "multiple of 32"),
    ({"epochs": 0}, ConfigError, "--epochs must be positive"),
])
def test_training_options_are_refused(options: dict[str, Any], error: type[Exception],
                                      message: str) -> None:
    with pytest.raises(error, match=message):
        EnsembleTrainConfig(**options)
