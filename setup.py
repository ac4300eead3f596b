"""Build hook: ship ``plugins/`` and ``configs/`` inside the wheel as ``workbench/_data/``.

Everything else about the package is declared in ``pyproject.toml``. The two folders live at
the top of the repository (where FiftyOne and users expect them); a wheel carries copies under
``workbench/_data/``, which :mod:`workbench.resources` looks in first. An editable install
copies nothing: it finds the folders in the checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("plugins", "configs")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


class BuildWithData(build_py):
    """``build_py`` that also copies the shipped folders into ``<build_lib>/workbench/_data``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "workbench" / "_data"
        for name in SHIPPED:
            dest = target / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(ROOT / name, dest, ignore=IGNORED)


setup(cmdclass={"build_py": BuildWithData})
