"""One small generic registry for every kind of variant (strategies, targets, formats, ...).

Each capability fills its registries with explicit :meth:`Registry.register` calls in the
module that defines them: nothing is discovered by scanning at import time. Unknown names raise
:class:`~workbench.errors.UnknownNameError` listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from workbench.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered variant.

    Attributes:
        name: the name users type (``entropy``, ``k210``, ``coco``).
        value: the callable or descriptor.
        meta: free-form facts the CLI, the App and the docs read (``help``, flags).
    """

    name: str
    value: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Names mapped to values, in registration order.

    Args:
        kind: what the names are, for messages (``"strategy"``, ``"target"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, value: T, **meta: Any) -> T:
        """Add ``name``; ``meta`` holds facts about it (help text, capabilities).

        Raises:
            ValueError: ``name`` is registered already (a programming error, not a user's).
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, value, dict(meta))
        return value

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``.

        Raises:
            UnknownNameError: listing the valid names.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def get(self, name: str) -> T:
        """The value registered as ``name`` (see :meth:`entry`)."""
        return self.entry(name).value

    def meta(self, name: str) -> dict[str, Any]:
        """The facts registered with ``name``."""
        return self.entry(name).meta

    def names(self, **where: Any) -> list[str]:
        """Registered names in registration order, optionally those whose meta matches."""
        return [e.name for e in self._entries.values()
                if all(e.meta.get(k) == v for k, v in where.items())]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def choices(self, **where: Any) -> str:
        """``"a | b | c"`` for help texts."""
        return " | ".join(self.names(**where))
