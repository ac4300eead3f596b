"""The base of every capability's result dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Result:
    """A command's result; :meth:`to_dict` is its ``--json`` (override where it differs)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
