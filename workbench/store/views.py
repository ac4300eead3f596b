"""View specs: short strings that name a curated subset of the workspace.

``all`` | ``pool`` | ``split:NAME`` | ``status:NAME`` | ``tag:NAME`` | ``round:NAME`` |
``source:NAME``; several joined by ``,`` must all hold (``split:train,source:cam1``).
"""

from __future__ import annotations

from typing import Any

from workbench.errors import ConfigError
from workbench.store import schema

_KEYS = {
    "split": schema.SPLIT,
    "status": schema.STATUS,
    "round": schema.ROUND_SELECTED,
    "source": schema.SOURCE,
}
FORMS = "all, pool, split:NAME, status:NAME, tag:NAME, round:NAME, source:NAME (joined by ',')"


def view_match(spec: str) -> dict[str, Any]:
    """The MongoDB filter of a view spec.

    Raises:
        ConfigError: the spec is not one of the forms in :data:`FORMS`.
    """
    clauses: list[dict[str, Any]] = []
    for part in (p.strip() for p in spec.split(",")):
        if part == "all":
            continue
        if part == "pool":
            clauses.append({schema.SPLIT: "pool"})
            continue
        key, sep, value = part.partition(":")
        if not sep or not value:
            raise ConfigError(f"invalid view {spec!r}: {part!r} is not one of {FORMS}")
        if key == "tag":
            clauses.append({"tags": value})
        elif key in _KEYS:
            clauses.append({_KEYS[key]: value})
        else:
            raise ConfigError(f"invalid view {spec!r}: unknown key {key!r}; use {FORMS}")
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def labeled_match(spec: str) -> dict[str, Any]:
    """The filter of a view spec restricted to ``status=labeled`` samples."""
    match = view_match(spec)
    labeled = {schema.STATUS: "labeled"}
    return {"$and": [match, labeled]} if match else labeled
