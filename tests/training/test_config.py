from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.training.runner import TrainConfig
from workbench.training.sweep import efficiency, parse_sizes
from workbench.training.weights import resolve_model


def test_resolve_model_names(tmp_path: Path) -> None:
    assert resolve_model("yolov8n.yaml") == "yolov8n.yaml"
    assert resolve_model("yolo11n.yaml") == "yolo11n.yaml"
    assert resolve_model("micro-relu").endswith("configs/models/micro-relu.yaml")
    assert resolve_model("configs/models/micro-relu.yaml").endswith("micro-relu.yaml")
    pt = tmp_path / "w.pt"
    pt.write_bytes(b"x")
    assert resolve_model(str(pt)) == str(pt.resolve())


@pytest.mark.parametrize("spec", ["micro-relu", "micro-relu.yaml",
                                  "configs/models/micro-relu.yaml"])
def test_resolve_model_finds_shipped_configs_from_any_folder(
        spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.resources import configs_dir

    monkeypatch.chdir(tmp_path)  # no configs/ here: found through workbench.resources
    resolved = resolve_model(spec)
    assert Path(resolved) == (configs_dir() / "models" / "micro-relu.yaml").resolve()


def test_train_cli_takes_its_defaults_from_the_config() -> None:
    import inspect

    from workbench.cli.common import default
    from workbench.training.cli import evaluate, train
    from workbench.training.config import EvalConfig

    for command, config in ((train, TrainConfig), (evaluate, EvalConfig)):
        for name, param in inspect.signature(command).parameters.items():
            if name in {f for f in config.__dataclass_fields__}:
                assert param.default == default(config, name), (command.__name__, name)


@pytest.mark.parametrize(
    ("spec", "content", "message"),
    [
        ("yolov8n.pt", None, "never downloads weights"),
        ("nope.yaml", None, "not found"),
        ("bad.yaml", "backbone: [unclosed", "does not parse"),
        ("flat.yaml", "nc: 3\n", "needs 'backbone' and 'head'"),
    ],
)
def test_resolve_model_errors(tmp_path: Path, spec: str, content: str | None,
                              message: str) -> None:
    if content is not None:
        (tmp_path / spec).write_text(content)
        spec = str(tmp_path / spec)
    with pytest.raises(ConfigError, match=message):
        resolve_model(spec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"imgsz": 300}, "multiple of 32"), ({"epochs": 0}, "--epochs"), ({"batch": -1}, "--batch"),
     ({"patience": -1}, "--patience")],
)
def test_train_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_parse_sizes() -> None:
    assert parse_sizes("224,320,416") == [224, 320, 416]
    for bad in ("224,300", "a,b", "", "224,224"):
        with pytest.raises(ConfigError):
            parse_sizes(bad)


def test_efficiency_prefers_fast_when_accuracy_is_close() -> None:
    s = efficiency([0.50, 0.52, 0.53], [10.0, 20.0, 40.0])
    np.testing.assert_allclose(s, [0.5, 0.52 * np.sqrt(0.5), 0.53 * 0.5])
    assert int(np.argmax(s)) == 0
    assert int(np.argmax(efficiency([0.1, 0.5], [10.0, 20.0]))) == 1
