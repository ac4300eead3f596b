"""Operator forms come from the config dataclasses: kinds, defaults, descriptions, coercion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError
from workbench.ui.forms import Choices, FieldSpec, build_config, describe, form_fields


@dataclass
class Sample:
    """Options of a made-up command.

    Attributes:
        n: how many; must be positive.
        name: a name (default: generated), continued
            on a second line.
        kind: a name of :data:`~workbench.some.module.KINDS`.
        lo, hi: the ``band`` limits.
        imgsz: input size; ``epochs``: how long.
        band: two numbers.
        weights: class -> weight.
        extra: further arguments.
        paths: files.
        flag: a switch.
        out: where to write.
        names: several names.
    """

    n: int
    name: str | None = None
    kind: str = "a"
    lo: float = 0.1
    hi: float = 0.9
    imgsz: int = 320
    epochs: int = 3
    band: tuple[float, float] | None = None
    weights: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    flag: bool = False
    out: Path = Path("out")
    names: tuple[str, ...] = ("a", "b")

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ConfigError(f"n must be positive, got {self.n}")


@pytest.mark.parametrize(("name", "words"), [
    ("n", "how many; must be positive."),
    ("name", "a name (default: generated), continued on a second line."),
    ("kind", "a name of KINDS."),
    ("lo", "the `band` limits."),
    ("hi", "the `band` limits."),
    ("imgsz", "input size"),
    ("epochs", "how long."),
])
def test_describe_reads_the_attributes_section(name: str, words: str) -> None:
    assert describe(Sample)[name] == words


@pytest.mark.parametrize(("name", "kind", "required", "default"), [
    ("n", "int", True, None),
    ("name", "str", False, None),
    ("kind", "enum", False, "a"),
    ("lo", "float", False, 0.1),
    ("band", "numbers", False, None),
    ("weights", "mapping", False, {}),
    ("extra", "json", False, {}),
    ("paths", "list", False, []),
    ("flag", "bool", False, False),
    ("out", "str", False, "out"),
    ("names", "list", False, ["a", "b"]),
])
def test_form_fields_kinds_and_defaults(name: str, kind: str, required: bool,
                                        default: Any) -> None:
    form = {f.name: f for f in form_fields(Sample, {"kind": Choices(static=("a", "b"))})}
    spec = form[name]
    assert (spec.kind, spec.required, spec.default) == (kind, required, default)
    assert form["band"].size == 2
    assert form["kind"].choices == ("a", "b")


def test_hidden_fields_and_workspace_lists() -> None:
    form = form_fields(Sample, {"name": Choices(source="rounds", other=True)},
                       hidden=("extra", "out"), lists={"rounds": ["round-2", "round-1"]})
    names = [f.name for f in form]
    assert "extra" not in names and "out" not in names
    name = next(f for f in form if f.name == "name")
    assert (name.kind, name.choices, name.other) == ("enum", ("round-2", "round-1"), True)


def _form() -> list[FieldSpec]:
    return form_fields(Sample, {"kind": Choices(static=("a", "b"))})


@pytest.mark.parametrize(("params", "expected"), [
    ({"n": 3}, Sample(n=3)),
    ({"n": "4", "name": "  ", "lo": "0.2"}, Sample(n=4, lo=0.2)),
    ({"n": 1, "band": "0.1, 0.5"}, Sample(n=1, band=(0.1, 0.5))),
    ({"n": 1, "band": [0.2, 0.3]}, Sample(n=1, band=(0.2, 0.3))),
    ({"n": 1, "weights": "fish=2, shark=0.5"}, Sample(n=1, weights={"fish": 2.0, "shark": 0.5})),
    ({"n": 1, "extra": '{"mosaic": 0}'}, Sample(n=1, extra={"mosaic": 0})),
    ({"n": 1, "paths": "a, b"}, Sample(n=1, paths=[Path("a"), Path("b")])),
    ({"n": 1, "paths": ["c"]}, Sample(n=1, paths=[Path("c")])),
    ({"n": 1, "names": "x, y"}, Sample(n=1, names=("x", "y"))),
    ({"n": 1, "names": ["z"]}, Sample(n=1, names=("z",))),
    ({"n": 1, "out": "x/y", "flag": True, "kind": "b"},
     Sample(n=1, out=Path("x/y"), flag=True, kind="b")),
])
def test_build_config_coerces_the_app_params(params: dict[str, Any], expected: Sample) -> None:
    assert build_config(Sample, params, _form()) == expected


@pytest.mark.parametrize(("params", "message"), [
    ({}, "is required"),
    ({"n": "many"}, "must be a number"),
    ({"n": 0}, "n must be positive"),
    ({"n": 1, "band": "0.1"}, "needs 2 numbers"),
    ({"n": 1, "weights": "fish"}, "NAME=VALUE"),
    ({"n": 1, "extra": "[1]"}, "JSON object"),
    ({"n": 1, "extra": "{"}, "JSON object"),
    ({"n": 1, "kind": "z"}, "not one of a, b"),
])
def test_build_config_refuses_with_a_message(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(Sample, params, _form())


def test_fixed_values_are_set_by_the_operator() -> None:
    assert build_config(Sample, {"n": 2}, _form(), fixed={"flag": True}).flag is True


@dataclass
class Sizes:
    """Options with a list of numbers.

    Attributes:
        labels: sizes.
    """

    labels: list[int] = field(default_factory=lambda: [50, 100])


@pytest.mark.parametrize(("raw", "expected"), [("20, 40", [20, 40]), ([10], [10])])
def test_lists_of_numbers_are_numbers(raw: Any, expected: list[int]) -> None:
    assert build_config(Sizes, {"labels": raw}, form_fields(Sizes)).labels == expected
    with pytest.raises(ConfigError, match="must be a number"):
        build_config(Sizes, {"labels": "ten"}, form_fields(Sizes))
