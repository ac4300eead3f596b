"""Files that ship with workbench as package data: the App plugins and the model configs.

A wheel carries them under ``workbench/_data/`` (copied there at build time, see ``setup.py``);
a source checkout or an editable install finds them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import WorkbenchError

_PACKAGED = Path(__file__).resolve().parent / "_data"
_CHECKOUT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """The shipped folder ``name`` (``plugins`` or ``configs``).

    Raises:
        WorkbenchError: neither the installed package nor a checkout holds it (a broken install).
    """
    for base in (_PACKAGED, _CHECKOUT):
        folder = base / name
        if folder.is_dir():
            return folder
    raise WorkbenchError(f"workbench's {name}/ folder is missing from {_PACKAGED} and "
                         f"{_CHECKOUT}; reinstall workbench (pip install .)")


def plugins_dir() -> Path:
    """The folder of FiftyOne plugins (``FIFTYONE_PLUGINS_DIR`` for the App)."""
    return data_dir("plugins")


def configs_dir() -> Path:
    """The folder of shipped configs (``models/*.yaml``)."""
    return data_dir("configs")
