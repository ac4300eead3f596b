"""The workspace file, ``workbench.yaml``: typed, validated, saved beside the data."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError, WorkspaceError

WORKSPACE_FILE = "workbench.yaml"
DEFAULT_DATABASE_DIR = ".fiftyone-db"
SPLITS = ("train", "val", "test")
POOL = "pool"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class SplitDefaults:
    """Defaults of ``workbench split``.

    Attributes:
        ratios: fractions of labeled images for train, val and test.
        seed: seed of the split's random tie-breaks.
        group_by: sample field whose equal values must share a split.
    """

    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    group_by: str = "group"


@dataclass
class WorkspaceConfig:
    """Contents of ``workbench.yaml``.

    Attributes:
        name: the FiftyOne dataset name (unique within its database).
        classes: the workspace's class list; index order is the model's class order.
        database_uri: an external MongoDB URI, or None for the embedded mongod.
        database_dir: where the embedded mongod keeps its data, relative to the workspace.
        split: defaults of ``workbench split``.
        version: format version of this file.
    """

    name: str
    classes: list[str] = field(default_factory=list)
    database_uri: str | None = None
    database_dir: str = DEFAULT_DATABASE_DIR
    split: SplitDefaults = field(default_factory=SplitDefaults)
    version: int = 1

    def __post_init__(self) -> None:
        validate_name(self.name)
        validate_classes(self.classes)
        validate_ratios(self.split.ratios)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for YAML."""
        d = asdict(self)
        d["split"]["ratios"] = list(self.split.ratios)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = WORKSPACE_FILE) -> WorkspaceConfig:
        """Build from a parsed YAML mapping, with errors that name the file and key."""
        if not isinstance(data, dict):
            raise WorkspaceError(f"{where}: expected a mapping at the top level")
        known = {"name", "classes", "database_uri", "database_dir", "split", "version"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WorkspaceError(f"{where}: unknown keys {unknown}; valid keys: {sorted(known)}")
        if "name" not in data:
            raise WorkspaceError(f"{where}: missing key 'name'")
        split = data.get("split") or {}
        try:
            sd = SplitDefaults(
                ratios=tuple(float(r) for r in split.get("ratios", SplitDefaults.ratios)),  # type: ignore[arg-type]
                seed=int(split.get("seed", 0)),
                group_by=str(split.get("group_by", "group")),
            )
            return cls(
                name=str(data["name"]),
                classes=[str(c) for c in data.get("classes") or []],
                database_uri=data.get("database_uri"),
                database_dir=str(data.get("database_dir") or DEFAULT_DATABASE_DIR),
                split=sd,
                version=int(data.get("version", 1)),
            )
        except (TypeError, ValueError) as exc:
            raise WorkspaceError(f"{where}: {exc}") from exc

    def save(self, root: Path) -> Path:
        """Write ``workbench.yaml`` into ``root``; return its path."""
        path = root / WORKSPACE_FILE
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, root: Path) -> WorkspaceConfig:
        """Read ``workbench.yaml`` from ``root``."""
        path = root / WORKSPACE_FILE
        if not path.is_file():
            raise WorkspaceError(
                f"{root} is not a workbench workspace (no {WORKSPACE_FILE}); "
                f"create one with `workbench init {root}` or pass -w/--workspace DIR"
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise WorkspaceError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, where=str(path))


def validate_name(name: str) -> None:
    """Dataset names: letters, digits, ``_ . -``; at most 100 characters."""
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"invalid workspace name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit), at most 100 characters"
        )


def validate_classes(classes: list[str]) -> None:
    """Class names must be non-empty, unique and free of surrounding spaces."""
    seen: set[str] = set()
    for c in classes:
        if not c or c != c.strip():
            raise ConfigError(f"invalid class name {c!r}: empty or with surrounding spaces")
        if c in seen:
            raise ConfigError(f"class {c!r} appears twice in the class list")
        seen.add(c)


def validate_ratios(ratios: tuple[float, ...]) -> None:
    """Three non-negative split ratios summing to 1 (within 1e-6)."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError(
            f"invalid split ratios {list(ratios)}: give three non-negative numbers for "
            "train,val,test that sum to 1, e.g. 0.7,0.15,0.15"
        )


def parse_ratios(text: str) -> tuple[float, float, float]:
    """Parse ``"0.7,0.15,0.15"``."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"invalid split ratios {text!r}: {exc}") from exc
    validate_ratios(parts)
    return parts  # type: ignore[return-value]
