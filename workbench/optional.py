"""Optional packages: a clear message naming the install command when one is missing.

The public sources (``fathomnet``, ``datasets``, ``av``) and the Ray engine are extras of the
package (``pip install 'workbench[sources]'``, ``'workbench[ray]'``); the CLI imports them only
when a command needs them, through :func:`require`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from workbench.errors import WorkbenchError

__all__ = ["MissingPackageError", "require"]


class MissingPackageError(WorkbenchError):
    """A command needs an optional package that is not installed."""


def require(module: str, extra: str, package: str | None = None, what: str = "this") -> ModuleType:
    """Import ``module`` or say how to install it.

    Args:
        module: the module to import (``datasets``, ``av``, ``ray``).
        extra: the workbench extra that brings it (``sources``, ``ray``).
        package: the pip name when it differs from ``module`` (``ray[data]``).
        what: what needs it, for the message (``ingest --format video``).

    Raises:
        MissingPackageError: the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPackageError(
            f"{what} needs the Python package {package or module!r}, which is not installed "
            f"({exc}); install it with: pip install 'workbench[{extra}]' (or pip install "
            f"'{package or module}')") from exc
