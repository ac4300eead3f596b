"""toolchain status: what each export target has on this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from workbench.export.toolchains import status


def test_every_target_is_listed_with_what_to_install(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    found = {t.target: t for t in status()}
    assert set(found) == {"onnx / onnx-int8", "tensorrt", "k230", "k210", "rknn"}
    assert found["onnx / onnx-int8"].available and "onnxruntime" in found["onnx / onnx-int8"].detail
    for t in found.values():
        assert t.available or t.install, t  # a missing toolchain always says what to install
    assert not found["k210"].available and "nncase==1.9" in found["k210"].install
    assert str(tmp_path / "toolchains" / "rknn") in found["rknn"].install


def test_a_side_environment_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A side environment whose Python imports the module counts as installed."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path))
    env = tmp_path / "toolchains" / "k210"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "nncase.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    k210 = next(t for t in status() if t.target == "k210")
    assert k210.available and k210.install == ""


def test_cli_json() -> None:
    from tests.test_cli_e2e import wb

    rows = json.loads(wb("toolchain", "status", "--json").stdout)
    assert {r["target"] for r in rows} >= {"tensorrt", "k210"}
