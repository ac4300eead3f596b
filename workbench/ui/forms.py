"""Operator forms read from the capabilities' config dataclasses, and configs built from forms.

A form field is described once, by the config dataclass: its type, its default and (in the
``Attributes:`` section of the class docstring) what it means. :func:`form_fields` turns a config
class into :class:`FieldSpec` s, with value lists from registries (``static``) or from what the
workspace holds (``source``, filled by :mod:`workbench.ui.choices`); :func:`build_config`
turns the App's parameters back into the config, so the config's own checks judge them. No
choice and no default is copied here.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

#: The kinds of form field (what the App draws).
KINDS = ("int", "float", "bool", "str", "enum", "list", "numbers", "mapping", "json")


@dataclass(frozen=True)
class Choices:
    """Where a field's values come from.

    Attributes:
        static: fixed values (a registry's names).
        source: a workspace list of :data:`workbench.ui.choices.SOURCES` (``training_runs``,
            ``rounds``, ``classes`` ...).
        other: whether a value outside the list is allowed (e.g. a ``.pt`` path for a model).
    """

    static: tuple[str, ...] = ()
    source: str | None = None
    other: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """One input of an operator's form.

    Attributes:
        name: the config field (also the operator's parameter name).
        kind: one of :data:`KINDS`; ``enum`` when the values are listed.
        label: a short label; ``description``: the config's own words for it.
        default: the config's default (None: no default value shown).
        required: the config has no default for it.
        choices: the listed values (``enum``, or ``list`` of listed values).
        other: a value outside ``choices`` is allowed.
        size: ``numbers``: how many numbers (``conf_band``: 2, ``ratios``: 3).
    """

    name: str
    kind: str
    label: str
    description: str
    default: Any
    required: bool
    choices: tuple[str, ...] = ()
    other: bool = False
    size: int = 0


_NAME_LINE = re.compile(r"^(?P<names>[a-z_][a-z0-9_]*(?:, [a-z_][a-z0-9_]*)*): (?P<text>.*)$")
_INLINE = re.compile(r";\s*``(?P<name>[a-z_][a-z0-9_]*)``: ")


def describe(config: type) -> dict[str, str]:
    """Field name -> description, from the ``Attributes:`` section of ``config``'s docstring.

    Understands ``name: text`` (continued on indented lines), ``a, b: text`` (shared) and
    ``name: text; ``other``: text`` (several fields on one entry).
    """
    doc = config.__doc__ or ""
    lines = doc.expandtabs().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    entries: list[tuple[list[str], str]] = []
    base: int | None = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if base is None:
            base = indent
        if indent < base:
            break
        match = _NAME_LINE.match(line.strip()) if indent == base else None
        if match:
            entries.append((match["names"].split(", "), match["text"]))
        elif entries:
            names, text = entries[-1]
            entries[-1] = (names, f"{text} {line.strip()}")
    out: dict[str, str] = {}
    for names, text in entries:
        parts = _INLINE.split(text)
        for name in names:
            out[name] = _plain(parts[0])
        for name, part in zip(parts[1::2], parts[2::2], strict=True):
            out[name] = _plain(part)
    return out


def _plain(text: str) -> str:
    """Docstring markup (``literal``, :role:`~a.b.c`) as plain text."""
    text = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", text)
    return text.replace("``", "`").strip().rstrip(";")


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; a union of several types keeps the first non-None."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _kind(hint: Any) -> tuple[str, int]:
    """The form kind of a type hint, and the count of a fixed-size tuple."""
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        return "bool", 0
    if origin is int:
        return "int", 0
    if origin is float:
        return "float", 0
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[str, ...]: a list of values
            return "list", 0
        return "numbers", len(args)
    if origin is list:
        return "list", 0
    if origin is dict:
        value = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        return ("mapping" if value in (float, int) else "json"), 0
    return "str", 0  # str, Path


def _default(f: dataclasses.Field[Any]) -> tuple[Any, bool]:
    """The field's default (made JSON-ready) and whether it has one."""
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return None, False
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    return value, True


def config_defaults(config: type) -> dict[str, Any]:
    """The defaults of a config dataclass, JSON-ready (paths as strings, tuples as lists);
    fields without a default are left out."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value, has_default = _default(f)
        if has_default:
            out[f.name] = value
    return out


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def form_fields(config: type, choices: dict[str, Choices] | None = None,
                hidden: tuple[str, ...] = (), lists: dict[str, list[str]] | None = None
                ) -> list[FieldSpec]:
    """The form of ``config``: one :class:`FieldSpec` per field not in ``hidden``.

    Args:
        config: a config dataclass.
        choices: field name -> where its values come from.
        hidden: fields the form leaves at their defaults.
        lists: the workspace lists (source name -> values) for ``Choices.source``.
    """
    choices = choices or {}
    lists = lists or {}
    hints = typing.get_type_hints(config)
    words = describe(config)
    out: list[FieldSpec] = []
    for f in dataclasses.fields(config):
        if f.name in hidden or not f.init:
            continue
        hint, optional = _unwrap(hints[f.name])
        kind, size = _kind(hint)
        default, has_default = _default(f)
        where = choices.get(f.name)
        listed: tuple[str, ...] = ()
        if where is not None:
            listed = where.static or tuple(lists.get(where.source or "", ()))
            if kind != "list":
                kind = "enum"
        out.append(FieldSpec(
            name=f.name, kind=kind, label=_label(f.name),
            description=words.get(f.name, ""), default=default,
            required=not has_default and not optional, choices=listed,
            other=where.other if where is not None else False, size=size))
    return out


def _number(text: Any, kind: str, name: str) -> int | float:
    try:
        return int(text) if kind == "int" else float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{_label(name)} ({name}) must be a number, got {text!r}") from None


def _value(spec: FieldSpec, hint: Any, raw: Any) -> Any:
    """One parameter from the App as the config field's type."""
    base, _ = _unwrap(hint)
    if spec.kind == "bool":
        return bool(raw)
    if spec.kind in ("int", "float"):
        return _number(raw, spec.kind, spec.name)
    if spec.kind == "numbers":
        parts = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
        numbers = tuple(_number(p, "float", spec.name) for p in parts)
        if spec.size and len(numbers) != spec.size:
            raise ConfigError(f"{_label(spec.name)} ({spec.name}) needs {spec.size} numbers "
                              f"like {' '.join(['0.1'] * spec.size)}, got {raw!r}")
        return numbers
    if spec.kind == "list":
        items = raw if isinstance(raw, list) else [s for s in str(raw).split(",")]
        items = [str(s).strip() for s in items if str(s).strip()]
        item = (typing.get_args(base) or (str,))[0]
        if item in (int, float):
            values: list[Any] = [_number(s, "int" if item is int else "float", spec.name)
                                 for s in items]
        else:
            values = [Path(s) for s in items] if item is Path else items
        return tuple(values) if typing.get_origin(base) is tuple else values
    if spec.kind == "mapping":
        out: dict[str, float] = {}
        for item in str(raw).replace(";", ",").split(","):
            key, sep, value = item.strip().partition("=")
            if item.strip() and (not sep or not key):
                raise ConfigError(f"{_label(spec.name)} ({spec.name}) expects NAME=VALUE, "
                                  f"comma-separated; got {item.strip()!r}")
            if item.strip():
                out[key.strip()] = _number(value, "float", spec.name)
        return out
    if spec.kind == "json":
        if isinstance(raw, dict):
            return raw
        try:
            value = json.loads(str(raw))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{_label(spec.name)} ({spec.name}) must be a JSON object: "
                              f"{exc}") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{_label(spec.name)} ({spec.name}) must be a JSON object")
        return value
    text = str(raw).strip()
    if spec.kind == "enum" and spec.choices and not spec.other and text not in spec.choices:
        raise ConfigError(f"{_label(spec.name)} ({spec.name}): {text!r} is not one of "
                          f"{', '.join(spec.choices)}")
    return Path(text) if base is Path else text


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == [] or raw == {}


def build_config(config: type, params: dict[str, Any], fields: list[FieldSpec],
                 fixed: dict[str, Any] | None = None) -> Any:
    """The config of an operator's parameters.

    Empty parameters take the config's default; the config's own checks run as for the CLI.

    Args:
        config: the config dataclass.
        params: the App's parameters (field name -> value).
        fields: the form (:func:`form_fields`).
        fixed: values set by the operator, not the user.

    Raises:
        ConfigError: a value of the wrong type, a missing required one, or what the config
            itself refuses.
    """
    hints = typing.get_type_hints(config)
    kwargs: dict[str, Any] = dict(fixed or {})
    for spec in fields:
        if spec.name in kwargs:
            continue
        raw = params.get(spec.name)
        if _empty(raw) and spec.kind != "bool":
            if spec.required:
                raise ConfigError(f"{spec.label} ({spec.name}) is required")
            continue
        if raw is None:
            continue
        kwargs[spec.name] = _value(spec, hints[spec.name], raw)
    try:
        return config(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{config.__name__}: {exc}") from None
