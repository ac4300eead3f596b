from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.store.predictions import field_name
from workbench.store.views import view_match


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("all", {}),
        ("pool", {"split": "pool"}),
        ("split:train", {"split": "train"}),
        ("tag:hard", {"tags": "hard"}),
        ("status:labeled", {"status": "labeled"}),
        ("round:r1", {"round_selected": "r1"}),
        ("source:cam", {"source": "cam"}),
        ("split:val,source:cam", {"$and": [{"split": "val"}, {"source": "cam"}]}),
    ],
)
def test_view_match(spec: str, match: dict) -> None:
    assert view_match(spec) == match


@pytest.mark.parametrize("spec", ["train", "split:", "colour:red", "split:train,foo"])
def test_bad_views(spec: str) -> None:
    with pytest.raises(ConfigError, match="split:NAME"):
        view_match(spec)


@pytest.mark.parametrize(
    ("run", "name"), [("t1", "pred_t1"), ("train-2026-x.y", "pred_train_2026_x_y")]
)
def test_field_name(run: str, name: str) -> None:
    assert field_name("pred", run) == name
