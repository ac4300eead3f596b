"""The generic Registry every variant kind uses."""

from __future__ import annotations

import pytest

from workbench.errors import UnknownNameError
from workbench.registry import Registry


def _registry() -> Registry[int]:
    reg: Registry[int] = Registry("strategy")
    reg.register("b", 2, help="second", fast=True)
    reg.register("a", 1, help="first", fast=False)
    reg.register("c", 3, help="third", fast=True)
    return reg


def test_names_keep_registration_order_and_filter_on_meta() -> None:
    reg = _registry()
    assert reg.names() == ["b", "a", "c"]
    assert reg.names(fast=True) == ["b", "c"]
    assert reg.choices() == "b | a | c"
    assert [e.name for e in reg] == ["b", "a", "c"]
    assert len(reg) == 3 and "a" in reg and "z" not in reg


@pytest.mark.parametrize(("name", "value", "meta"), [("a", 1, {"help": "first", "fast": False}),
                                                     ("c", 3, {"help": "third", "fast": True})])
def test_get_and_meta(name: str, value: int, meta: dict[str, object]) -> None:
    reg = _registry()
    assert reg.get(name) == value
    assert reg.meta(name) == meta
    assert reg.entry(name).name == name


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown strategy 'z'; valid strategies: a, b, c"):
        _registry().get("z")
    with pytest.raises(UnknownNameError, match=r"valid targets: x"):
        only: Registry[int] = Registry("target")
        only.register("x", 0)
        only.meta("y")


def test_a_name_registers_once() -> None:
    reg = _registry()
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", 9)
    assert reg.get("a") == 1
