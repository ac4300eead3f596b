"""A wheel carries the App plugins and the model configs (``workbench/_data/``).

Built from a copy of the source files a release ships, installed non-editable into a fresh venv
that sees this environment's third-party packages (the ``.pth`` trick of ``.ci/env.sh``), then
used from another folder: the installed package, not this checkout, must serve both folders.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from workbench.ui.catalog import operators

pytestmark = pytest.mark.slow

SHIPPED = ("pyproject.toml", "setup.py", "README.md", "workbench", "plugins", "configs")

PROBE = """
import json, os
import workbench, workbench.resources as res
from workbench.ui.api import configure_plugins
from workbench.training.api import resolve_model

plugins = configure_plugins()
import fiftyone.plugins as fop
import fiftyone.operators.registry as registry

found = {p.name: {"directory": p.directory, "operators": list(p.operators)}
         for p in fop.list_plugins()}
print(json.dumps({
    "package": workbench.__file__, "plugins_dir": str(res.plugins_dir()),
    "configs_dir": str(res.configs_dir()), "configured": str(plugins),
    "env_plugins_dir": os.environ["FIFTYONE_PLUGINS_DIR"], "plugins": found,
    "operators": [o.uri for o in registry.list_operators()],
    "model": resolve_model("micro-relu.yaml"),
}))
"""


def _third_party_site() -> Path:
    """The site-packages holding fiftyone (the cached environment's, under ``.ci/env.sh``)."""
    spec = importlib.util.find_spec("fiftyone")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).resolve().parent


def _run(*cmd: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FIFTYONE_PLUGINS_DIR", "VIRTUAL_ENV")}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_wheel_ships_plugins_and_configs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_data", "*.egg-info")
    for name in SHIPPED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation",
         "-q", "-w", dist, cwd=tmp_path)
    wheel = next(dist.glob("workbench-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        shipped = [n for n in zf.namelist() if n.startswith("workbench/_data/")]
    assert "workbench/_data/plugins/workbench_plugin/fiftyone.yml" in shipped
    assert "workbench/_data/configs/models/micro-relu.yaml" in shipped
    assert not [n for n in shipped if "__pycache__" in n or n.endswith(".pyc")]

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    _run(base, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp_path).strip())
    (site / "_workbench_cache.pth").write_text(f"{_third_party_site()}\n")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    assert (venv / "bin" / "workbench").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = json.loads(_run(python, "-c", PROBE, cwd=elsewhere).strip().splitlines()[-1])
    data = site / "workbench" / "_data"
    assert Path(report["package"]).is_relative_to(site)
    assert Path(report["plugins_dir"]) == data / "plugins"
    assert Path(report["configs_dir"]) == data / "configs"
    assert report["configured"] == report["env_plugins_dir"] == str(data / "plugins")
    plugin = report["plugins"]["@workbench/workbench"]
    assert Path(plugin["directory"]) == data / "plugins" / "workbench_plugin"
    # FiftyOne lists a plugin's panels among its operators, after them
    names = [*operators().names(), "wb_export_panel", "wb_loop_panel"]
    assert plugin["operators"] == names
    assert {f"@workbench/workbench/{n}" for n in names} <= set(report["operators"])
    assert Path(report["model"]) == data / "configs" / "models" / "micro-relu.yaml"
    assert sysconfig.get_paths()["purelib"] != str(site)
