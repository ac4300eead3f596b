"""Resolve ``--model``: a model YAML (built from scratch) or a local ``.pt``; never a download."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from workbench.errors import ConfigError
from workbench.resources import configs_dir

#: Architecture YAMLs that Ultralytics carries inside its package (built offline, no weights).
BUILTIN_PREFIXES = ("yolov3", "yolov5", "yolov6", "yolov8", "yolov9", "yolov10", "yolo11",
                    "yolo12", "yolo26")


def offline_environment() -> None:
    """Keep Ultralytics from reaching the network (hub checks, fonts, pip updates) and quiet.

    Must run before ``ultralytics`` is first imported in the process.
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "False")  # workbench shows its own epoch progress


def resolve_model(spec: str) -> str:
    """Return what to pass to ``YOLO(...)`` for ``spec``.

    Accepts a path to a ``.yaml``/``.pt`` file, a name of a shipped model config
    (:func:`workbench.resources.configs_dir` ``/models``, with or without ``.yaml``, or as
    ``configs/models/NAME.yaml`` from any folder), or an Ultralytics architecture name such as
    ``yolov8n.yaml``.

    Raises:
        ConfigError: the file is missing, does not parse, or a ``.pt`` would be downloaded.
    """
    path = Path(spec).expanduser()
    if path.suffix == ".pt":
        if not path.is_file():
            raise ConfigError(
                f"model weights {spec!r} not found; workbench never downloads weights. Pass a "
                "local .pt (e.g. runs/train/NAME/weights/best.pt) or a model YAML such as "
                "yolov8n.yaml or configs/models/micro-relu.yaml to train from scratch")
        return str(path.resolve())
    shipped_dir = configs_dir() / "models"
    # ``configs/models/NAME.yaml`` as the docs write it, from any folder: relative to the
    # folder that holds the shipped ``configs/`` (the checkout or the installed package)
    candidates = [path, configs_dir().parent / spec, shipped_dir / spec,
                  shipped_dir / f"{spec}.yaml"]
    for candidate in candidates:
        if candidate.is_file() and candidate.suffix in (".yaml", ".yml"):
            check_model_yaml(candidate)
            return str(candidate.resolve())
    if path.suffix in (".yaml", ".yml") and path.name.startswith(BUILTIN_PREFIXES) \
            and len(path.parts) == 1:
        return spec
    shipped = sorted(p.name for p in shipped_dir.glob("*.yaml"))
    raise ConfigError(
        f"model {spec!r} not found: give a .yaml/.pt path, a config in configs/models/ "
        f"({', '.join(shipped)}), or an Ultralytics architecture such as yolov8n.yaml, "
        "yolo11n.yaml")


def check_model_yaml(path: Path) -> None:
    """Fail early, naming the file, when a model YAML does not parse or lacks its sections."""
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: model YAML does not parse: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("backbone"), list) \
            or not isinstance(spec.get("head"), list):
        raise ConfigError(f"{path}: a model YAML needs 'backbone' and 'head' layer lists "
                          "(see configs/models/micro-relu.yaml)")
