"""``--class-map FILE``: merge a source's own class names into the workspace's classes.

The file is YAML or JSON, one mapping ``{source name: workspace class}``; names it does not list
keep their own name. Used by the sources whose names come from elsewhere (FathomNet concepts,
Hugging Face ``ClassLabel`` names).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import SourceError

__all__ = ["apply_class_map", "load_class_map"]


def load_class_map(path: str | Path | None) -> dict[str, str]:
    """Read a class map file (empty mapping for None).

    Raises:
        SourceError: the file is missing, not YAML/JSON, not a mapping of names to names.
    """
    if path is None:
        return {}
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file}: cannot read the class map ({exc})") from exc
    import yaml

    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SourceError(f"{file}: not valid YAML/JSON ({exc}); write one line per class, "
                          "'source name: workspace class'") from exc
    if not isinstance(data, dict) or not data:
        raise SourceError(f"{file}: a class map is a mapping 'source name: workspace class', "
                          f"got {type(data).__name__}")
    bad = [k for k, v in data.items() if not isinstance(v, str) or not str(k).strip()
           or not v.strip()]
    if bad:
        raise SourceError(f"{file}: entries {bad[:5]} do not map a name to a class name")
    return {str(k).strip(): v.strip() for k, v in data.items()}


def apply_class_map(names: Sequence[str], mapping: dict[str, str]) -> list[str]:
    """Each name through the map (unlisted names unchanged)."""
    return [mapping.get(n, n) for n in names]
