"""YOLO txt labels (``class cx cy w h``, relative) with a names file.

Class ids only mean something with the tool's own names list, so one of ``classes.txt``,
``obj.names`` or a ``*.yaml`` with ``names`` must come along; ids are turned into names
with it and matched by name. A label file answers the image with the same stem; an empty
file is a labeled negative. Six-field lines carry a confidence: predictions, refused.
"""

from __future__ import annotations

from typing import Any

import yaml

from workbench.annotation.bundle import Bundle, read_text
from workbench.annotation.formats.base import Collector, Returned
from workbench.annotation.manifest import Manifest
from workbench.core.boxes import cxcywhn_to_xyxyn
from workbench.errors import SourceError

NAME_FILES = ("classes.txt", "obj.names")
LIST_FILES = ("train.txt", "val.txt", "test.txt", "valid.txt")


def _names(bundle: Bundle, members: list[str]) -> tuple[list[str], str]:
    for member in members:
        if member.rsplit("/", 1)[-1] in NAME_FILES:
            lines = read_text(bundle, member).splitlines()
            return [ln.strip() for ln in lines if ln.strip()], member
    for member in members:
        if member.endswith((".yaml", ".yml")):
            try:
                spec: Any = yaml.safe_load(read_text(bundle, member))
            except yaml.YAMLError as exc:
                raise SourceError(f"{bundle.label}: {member}: not valid YAML ({exc})") from exc
            names = spec.get("names") if isinstance(spec, dict) else None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names)], member
            if isinstance(names, list):
                return [str(n) for n in names], member
    raise SourceError(
        f"{bundle.label}: YOLO labels need their class names (class ids are positions in the "
        "tool's own list): add classes.txt with one name per line, in the tool's order")


def parse(bundle: Bundle, members: list[str], manifest: Manifest) -> Returned:
    """Parse YOLO label files and their names file."""
    names, names_file = _names(bundle, members)
    labels = [m for m in members if m.endswith(".txt") and m != names_file
              and m.rsplit("/", 1)[-1] not in LIST_FILES + NAME_FILES]
    if not labels:
        raise SourceError(f"{bundle.label}: no YOLO .txt label files found")
    col = Collector(manifest, bundle.label)
    for member in labels:
        where = col.where(member)
        stem = member.rsplit("/", 1)[-1][:-4]
        k = col.image(stem, where)
        if k is None:
            continue
        for lineno, line in enumerate(read_text(bundle, member).splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) == 6:
                col.prediction(where, "a sixth column (confidence)", lineno)
                continue
            try:
                if len(fields) != 5:
                    raise ValueError
                cls = int(fields[0])
                coords = [float(v) for v in fields[1:]]
            except ValueError:
                col.batch.error("bad-line", where, f"expected 'class x_center y_center width "
                                                   f"height', got {line[:80]!r}", lineno)
                continue
            if not 0 <= cls < len(names):
                col.batch.error("class-id-out-of-range", where,
                                f"class id {cls} is not in {names_file} (0..{len(names) - 1})",
                                lineno)
                continue
            x1, y1, x2, y2 = cxcywhn_to_xyxyn(coords)[0].tolist()
            col.box_rel(k, names[cls], (x1, y1, x2, y2), where, lineno,
                        wh=(coords[2], coords[3]))
    return Returned("yolo", col.batch, [names_file, *labels])
