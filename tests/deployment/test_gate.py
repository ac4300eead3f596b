"""The accuracy gate of exports (pure function)."""

from __future__ import annotations

import pytest

from workbench.deployment.config import ExportConfig
from workbench.deployment.gate import check
from workbench.errors import ConfigError


@pytest.mark.parametrize(("map50", "fp32", "cosine", "passed", "says"), [
    (0.396, 0.396, 1.0, True, []),
    (0.385, 0.396, 0.999, True, []),                       # -1.1 points: within 2
    (0.120, 0.396, 0.9967, False, ["27.6 mAP50 points"]),  # the onnx-int8 figure
    (0.396, 0.396, 0.95, False, ["cosine 0.9500"]),
    (0.100, 0.396, 0.90, False, ["29.6 mAP50 points", "cosine 0.9000"]),
    (0.420, 0.396, 0.999, True, []),                       # better than FP32
    (None, 0.396, 0.999, True, []),                        # mAP not measured: cosine only
    (0.396, 0.396, None, True, []),
])
def test_gate(map50: float | None, fp32: float, cosine: float | None, passed: bool,
              says: list[str]) -> None:
    gate = check(map50, fp32, cosine, max_drop=2.0, min_cosine=0.99)
    assert gate["passed"] is passed and len(gate["failures"]) == len(says)
    for text, failure in zip(says, gate["failures"], strict=True):
        assert text in failure


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match="--max-drop"):
        ExportConfig(run="x", max_drop=-1)
    with pytest.raises(ConfigError, match="--min-cosine"):
        ExportConfig(run="x", min_cosine=2)
    assert ExportConfig(run="x").max_drop == 2.0
