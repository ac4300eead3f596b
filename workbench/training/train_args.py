"""``--train-arg KEY=VALUE``: further Ultralytics training arguments typed on the command line.

Shared by ``workbench train`` and ``workbench loop`` (re-exported by
:mod:`workbench.loop.config`). Light at import: PyYAML is imported when parsing.
"""

from __future__ import annotations

from typing import Any

from workbench.errors import ConfigError

__all__ = ["parse_train_args"]


def parse_train_args(items: list[str] | None) -> dict[str, Any]:
    """``["lr0=0.002", "mosaic=0"]`` -> ``{"lr0": 0.002, "mosaic": 0}`` (YAML scalars).

    Raises:
        ConfigError: an item is not ``KEY=VALUE``.
    """
    import yaml

    parsed: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--train-arg {item!r}: expected KEY=VALUE, e.g. lr0=0.002")
        try:
            parsed[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--train-arg {item!r}: the value is not a YAML scalar "
                              f"({exc}); quote it, e.g. {key.strip()}='text'") from exc
    return parsed
