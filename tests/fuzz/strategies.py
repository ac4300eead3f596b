"""Malformed and boundary inputs: nasty values, and mutations of valid files and documents."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from hypothesis import strategies as st

NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 2**63, -(2**63), 10**400, 1e308, -1e308, 5e-324,
    math.nan, math.inf, -math.inf, "", " ", "0", "nan", "inf", "-1", "1e999",
    "../../etc/passwd", "/etc/passwd", "C:\\Windows\\x.jpg", "a\x00b", "\u202egpj.exe",
    "\u05d3\u05d2", "\ufeff", "𝔣𝔦𝔰𝔥", "fish", "a" * 5000, [], {}, [1, 2], [0, 0, 0, 0],
    [1e308, 1e308, 1e308, 1e308], {"a": None},
]

#: One JSON-ish value: a known nasty one or a generated scalar/collection.
nasty_values = st.one_of(
    st.sampled_from(NASTY).map(copy.deepcopy),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
)

#: The same values as they would appear written in a text file.
nasty_tokens = st.one_of(
    nasty_values.map(lambda v: v if isinstance(v, str) else json.dumps(v)),
    st.sampled_from(["", "-", "1e309", "0x10", "1_000", "NaN", "Infinity", "\x00", "<", "&",
                     "\"", "'", "]]>", "\n", "\t", "é", "\u202e"]),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with 1-3 edits: a value replaced, a key dropped, a list entry duplicated."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        leaves = [p for p in paths if not isinstance(_get(doc, p), dict | list)]
        path = draw(st.sampled_from(leaves if leaves and draw(st.booleans()) else paths))
        op = draw(st.sampled_from(["replace", "replace", "drop", "duplicate"]))
        if not path:
            if op == "replace":
                doc = draw(nasty_values)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(nasty_values)
        elif op == "drop":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[key])))
        else:
            value = _get(doc, path)
            if isinstance(value, list) and value:
                value.append(json.loads(json.dumps(value[0])))
    return doc


_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?|[A-Za-z_./]+")


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> bytes:
    """``text`` truncated, emptied, garbled, or with a token replaced or inserted."""
    data = text.encode()
    op = draw(st.sampled_from(["truncate", "empty", "garbage", "token", "token", "insert",
                               "duplicate-line"]))
    if op == "truncate":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    if op == "empty":
        return b""
    if op == "garbage":
        return draw(st.binary(max_size=200))
    if op == "duplicate-line":
        lines = text.splitlines(keepends=True) or [""]
        k = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[:k + 1] + lines[k:]).encode()
    if op == "insert":
        at = draw(st.integers(0, len(text)))
        return (text[:at] + draw(nasty_tokens) + text[at:]).encode("utf-8", "surrogatepass")
    matches = list(_TOKEN.finditer(text))
    if not matches:
        return data
    m = draw(st.sampled_from(matches))
    return (text[:m.start()] + draw(nasty_tokens) + text[m.end():]).encode(
        "utf-8", "surrogatepass")


def dump_json(doc: Any) -> bytes:
    """JSON as a careless writer would produce it (NaN/Infinity allowed)."""
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def mutated_json_file(draw: st.DrawFn, doc: Any) -> bytes:
    """A JSON file: a structurally mutated document, or a text-level mutation of it."""
    if draw(st.booleans()):
        return dump_json(draw(mutated_json(doc)))
    return draw(mutated_text(json.dumps(doc, indent=1)))
