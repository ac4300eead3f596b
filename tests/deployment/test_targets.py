"""The export target registry: one descriptor per target, read by the config, CLI and toolchains."""

from __future__ import annotations

import pytest

from workbench.cli.common import default
from workbench.deployment.config import Budget, ExportConfig
from workbench.deployment.targets import (
    RKNN_PLATFORMS,
    TARGETS,
    TargetSpec,
    side_toolchains,
    toolchain_groups,
)
from workbench.deployment.toolchains import SIDE_ENVS
from workbench.errors import ConfigError


def test_every_target_is_registered_once_with_a_descriptor() -> None:
    assert TARGETS.names() == ["onnx", "onnx-int8", "tensorrt", "k210", "k230", "rknn"]
    for entry in TARGETS:
        spec = entry.value
        assert isinstance(spec, TargetSpec) and spec.help and spec.model_file
        assert entry.meta["help"] == spec.help and entry.meta["backend"] == spec.backend
        if spec.backend == "simulator":
            assert spec.driver and spec.phases and spec.toolchain in SIDE_ENVS
        else:
            assert not spec.driver and spec.toolchain not in SIDE_ENVS
        assert not spec.symmetric or spec.quantized


def test_unknown_target_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid targets: " + ", ".join(sorted(TARGETS.names()))):
        ExportConfig(run="x", target="coreml")
    with pytest.raises(ConfigError, match="valid targets"):
        TARGETS.get("jetson")


@pytest.mark.parametrize(("name", "facts"), [
    ("onnx", {"backend": "onnxruntime", "quantized": False, "keep_fp32": True,
              "model_file": "model.onnx"}),
    ("onnx-int8", {"quantized": True, "symmetric": False, "keep_fp32": False,
                   "model_file": "model.int8.onnx"}),
    ("tensorrt", {"quantized": True, "symmetric": True, "engine_bundle": True,
                  "model_file": "model.int8.qdq.onnx"}),
    ("k210", {"backend": "simulator", "needs_calibration": True, "memory_budget": True,
              "unslice": True, "device_script": True, "model_file": "model.kmodel"}),
    ("k230", {"needs_calibration": True, "memory_budget": False, "model_file": "model.kmodel"}),
    ("rknn", {"needs_calibration": False, "platform": True, "model_file": "model.rknn"}),
])
def test_descriptors_say_how_each_target_is_built(name: str, facts: dict) -> None:
    spec = TARGETS.get(name)
    for key, value in facts.items():
        assert getattr(spec, key) == value, (name, key)


def test_toolchains_come_from_the_registry() -> None:
    assert side_toolchains() == ["k210", "k230", "rknn"]
    assert set(side_toolchains()) == set(SIDE_ENVS)  # every side env serves a target
    assert toolchain_groups() == {"onnxruntime": ["onnx", "onnx-int8"], "tensorrt": ["tensorrt"],
                                  "k210": ["k210"], "k230": ["k230"], "rknn": ["rknn"]}


def test_defaults_live_in_the_config_once() -> None:
    assert default(ExportConfig, "platform") == RKNN_PLATFORMS[0]
    assert (default(ExportConfig, "max_model_mb"), default(ExportConfig, "max_memory_mb")) == (
        Budget().max_model_mb, Budget().max_memory_mb) == (5.5, 6.0)
    assert ExportConfig(run="x", max_model_mb=4.0).budget == Budget(4.0, 6.0)


def test_cli_help_names_every_target_platform_and_toolchain() -> None:
    from typer.testing import CliRunner

    from workbench.cli.main import app

    runner = CliRunner()
    helped = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "400"})
    assert helped.exit_code == 0, helped.output
    assert TARGETS.choices() in helped.output
    assert ", ".join(RKNN_PLATFORMS) in helped.output
    installed = runner.invoke(app, ["toolchain", "install", "--help"], env={"COLUMNS": "400"})
    assert " | ".join(side_toolchains()) in installed.output
