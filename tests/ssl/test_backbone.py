"""What "from scratch" means for a detector spec (the compare's scratch start)."""

from __future__ import annotations

import pytest

from tests.conftest import DEMO
from workbench.errors import ConfigError
from workbench.ssl.backbone import architecture


@pytest.mark.parametrize(("spec", "expected"), [
    ("yolov8n.yaml", "yolov8n.yaml"),
    ("micro-relu", "micro-relu"),
    (str(DEMO / "weights" / "yolov8n-224-seed.pt"), "yolov8n.yaml"),
])
def test_architecture(spec: str, expected: str) -> None:
    assert architecture(spec) == expected


def test_unknown_spec_is_refused() -> None:
    with pytest.raises(ConfigError):
        architecture("no-such-model.pt")
