"""Results of the annotation verbs; ``to_dict()`` is the command's JSON output."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from workbench.media.records import Issue
from workbench.results import Result


@dataclass
class PackageResult(Result):
    """What ``annotate export`` wrote.

    Attributes:
        package_id: the package (and its run) id.
        path: the zip written.
        images: images in the package.
        boxes_pre_annotated: pre-annotation boxes shipped.
        round: the selection round exported (None for a view).
        size_bytes: size of the zip.
        seconds: time taken.
    """

    package_id: str
    path: str
    images: int
    boxes_pre_annotated: int
    round: str | None
    size_bytes: int
    seconds: float


@dataclass
class UndoResult(Result):
    """What ``annotate undo`` restored: ``restored`` samples of ``import_id``."""

    undo_id: str
    import_id: str
    restored: int


@dataclass
class PushResult(Result):
    """What ``annotate push`` did.

    Attributes:
        push_id: the push run id.
        project_id, project: the server's project id and its title.
        url: the server.
        tasks_created: new tasks; ``already_in_project``: images the project already had.
        round: the round pushed (None for a view).
        project_url: where annotators work.
    """

    push_id: str
    project_id: int
    project: str
    url: str
    tasks_created: int
    already_in_project: int
    round: str | None
    project_url: str


@dataclass
class ImportResult:
    """What an import did, or would do (``dry_run``), or why it was refused.

    Attributes:
        import_id: the import run id ("" when refused or a dry run).
        package_id: the package the annotations answer.
        format: the annotation format read.
        images: images whose labels or status changed (written, or to be written).
        boxes: boxes of those images after the import.
        unchanged: annotated images already holding exactly these labels.
        not_annotated: package images the file does not answer (left as they were).
        totals: added / removed / moved / relabeled / unchanged boxes.
        per_image: one entry per changed image with its counts.
        issues: every problem found.
    """

    package_id: str = ""
    format: str = ""
    import_id: str = ""
    dry_run: bool = False
    images: int = 0
    boxes: int = 0
    unchanged: int = 0
    not_annotated: int = 0
    placed_in_splits: int = 0
    same_as: str | None = None
    totals: dict[str, int] = field(default_factory=dict)
    per_image: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        errors = [i for i in self.issues if i.severity == "error"]
        return {
            "import_id": self.import_id, "package_id": self.package_id, "format": self.format,
            "dry_run": self.dry_run, "images": self.images, "boxes": self.boxes,
            "unchanged": self.unchanged, "not_annotated": self.not_annotated,
            "placed_in_splits": self.placed_in_splits, "same_as": self.same_as,
            "totals": self.totals, "per_image": self.per_image,
            "errors": len(errors), "warnings": len(self.issues) - len(errors),
            "issue_counts": dict(Counter(f"{i.severity}:{i.kind}" for i in self.issues)),
            "issues": [i.to_dict() for i in self.issues], "seconds": round(self.seconds, 3),
        }
