"""Options of the workspace and curation commands: every default and rule lives here.

Split defaults left as ``None`` are the workspace's own (``workbench.yaml``'s ``split``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import ConfigError, UnknownNameError
from workbench.store.config import parse_ratios, validate_ratios
from workbench.store.runs import RunKind

#: Sample fields a split cannot group by (not scalar, or FiftyOne's own).
_UNGROUPABLE = ("tags", "ground_truth", "metadata")


def check_group_by(name: str) -> None:
    """Refuse fields that cannot define groups (private, lists, labels).

    Raises:
        ConfigError: ``name`` is not a scalar sample field one can group by.
    """
    if name.startswith("_") or name in _UNGROUPABLE:
        raise ConfigError(f"cannot group by {name!r}; use a scalar sample field like 'group'")


@dataclass
class InitConfig:
    """Options of ``workbench init``.

    Attributes:
        name: dataset name (default: the folder's name).
        classes: the class list; empty: taken from the first labeled ingest.
        database_uri: an external MongoDB (default: embedded mongod inside the workspace).
    """

    name: str | None = None
    classes: list[str] = field(default_factory=list)
    database_uri: str | None = None


@dataclass
class SplitConfig:
    """Options of ``workbench split``.

    Attributes:
        ratios: train, val, test fractions, or ``"0.7,0.15,0.15"`` (default: the workspace's).
        seed: tie-break seed (default: the workspace's); the same seed gives the same split.
        group_by: sample field whose equal values must share a split (default: the
            workspace's, ``group``).
        reset: redistribute every labeled image, including the test split.

    Raises:
        ConfigError: ratios that do not parse or do not sum to 1; an ungroupable field.
    """

    ratios: tuple[float, float, float] | str | None = None
    seed: int | None = None
    group_by: str | None = None
    reset: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.ratios, str):
            self.ratios = parse_ratios(self.ratios)
        elif self.ratios:
            values = tuple(float(v) for v in self.ratios)
            validate_ratios(values)
            self.ratios = (values[0], values[1], values[2])
        if self.group_by:
            check_group_by(self.group_by)


@dataclass
class CheckConfig:
    """Options of ``workbench check``.

    Attributes:
        group_by: field that defines groups for the leak check (default: the workspace's).
    """

    group_by: str | None = None


@dataclass
class RunsConfig:
    """Options of ``workbench runs``.

    Attributes:
        kind: only runs of this :class:`~workbench.store.runs.RunKind` (default: all).

    Raises:
        UnknownNameError: ``kind`` is not a run kind (the message lists them).
    """

    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind and self.kind not in RUN_KINDS:
            raise UnknownNameError("run kind", self.kind, list(RUN_KINDS))


#: Every run kind's name, in the order of the work.
RUN_KINDS: tuple[str, ...] = tuple(k.value for k in RunKind)
