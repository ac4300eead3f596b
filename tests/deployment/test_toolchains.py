"""toolchain status / install: side environments keyed by their pins, clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.deployment import toolchains
from workbench.deployment.toolchains import SIDE_ENVS, SideEnv, install, side_python, status
from workbench.errors import ConfigError, ToolchainError


def test_every_target_is_listed_with_what_to_install(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    found = {t.target: t for t in status()}
    assert set(found) == {"onnx / onnx-int8", "tensorrt", "k230", "k210", "rknn"}
    assert found["onnx / onnx-int8"].available and "onnxruntime" in found["onnx / onnx-int8"].detail
    for t in found.values():
        assert t.available or t.install, t  # a missing toolchain always says what to install
    for name in ("k210", "k230", "rknn"):
        assert not found[name].available
        assert f"workbench toolchain install {name}" in found[name].install
        assert str(tmp_path / "toolchains" / name) in found[name].detail


def test_stale_pins_and_missing_environments_are_not_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    env = SIDE_ENVS["k210"]
    with pytest.raises(ToolchainError, match="workbench toolchain install k210"):
        side_python("k210")
    env.root.mkdir(parents=True)
    (env.root / toolchains.STAMP).write_text("0" * 16)  # built for other pins
    assert not env.installed()
    k210 = next(t for t in status() if t.target == "k210")
    assert "stale" in k210.detail
    changed = SideEnv("k210", "3.10", (("nncase==1.8",),), "nncase")
    assert changed.key() != env.key()  # a changed pin list rebuilds


def test_install_explains_a_missing_interpreter_and_unknown_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="valid toolchains: k210, k230, rknn"):
        install("jetson")
    monkeypatch.setitem(SIDE_ENVS, "k210", SideEnv("k210", "2.1", (("nncase",),), "nncase"))
    with pytest.raises(ToolchainError, match=r"needs Python 2\.1.*pyenv install 2\.1"):
        install("k210", log=lambda _: None)
    assert not (tmp_path / "toolchains" / "k210").exists()


def test_a_failed_pip_step_leaves_no_installed_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real venv, a real pip that cannot find the package: no stamp, the pip error shown."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    broken = SideEnv("k210", "3.11", (("--no-index", "workbench-no-such-package==0"),), "nncase")
    monkeypatch.setitem(SIDE_ENVS, "k210", broken)
    with pytest.raises(ToolchainError, match="no-such-package"):
        install("k210", log=lambda _: None)
    assert not broken.installed()


def test_cli_json() -> None:
    from tests.test_cli_e2e import wb

    rows = json.loads(wb("toolchain", "status", "--json").stdout)
    assert {r["target"] for r in rows} >= {"tensorrt", "k210", "rknn", "k230"}
