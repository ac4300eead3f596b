"""Label Studio JSON export: a list of tasks with ``annotations`` (and maybe ``predictions``).

Only ``annotations`` are read, never ``predictions``. A task's latest submitted (not
cancelled) annotation counts; ``rectanglelabels`` values are percentages of the image.
The image is found by ``data.sample_id`` / ``data.file_name`` (written by workbench) or
the ``data.image`` URL. The ``JSON_MIN`` export (``label`` lists) is read too.
"""

from __future__ import annotations

from typing import Any

from workbench.annotation.bundle import Bundle, read_json
from workbench.annotation.formats.base import Collector, Returned, single_member
from workbench.annotation.manifest import Manifest
from workbench.errors import SourceError
from workbench.media.records import shown


def is_labelstudio(doc: Any) -> bool:
    """Whether a JSON document looks like a Label Studio export."""
    return isinstance(doc, list) and all(
        isinstance(t, dict) and ("data" in t or "image" in t) for t in doc[:10])


def _task_name(task: dict[str, Any]) -> str | None:
    data: dict[str, Any] = task["data"] if isinstance(task.get("data"), dict) else task
    for key in ("file_name", "image"):
        if isinstance(data.get(key), str):
            return str(data[key])
    if isinstance(data.get("sample_id"), str):
        return f"{data['sample_id']}.img"
    return None


def _latest(annotations: list[Any]) -> dict[str, Any] | None:
    done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not done:
        return None
    return max(done, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""),
                                    a.get("id") if isinstance(a.get("id"), int | float) else 0))


def _add_result(col: Collector, k: int, item: dict[str, Any], at: str) -> None:
    value: dict[str, Any] = item["value"] if isinstance(item.get("value"), dict) else item
    labels = value.get("rectanglelabels")
    if not isinstance(labels, list) or len(labels) != 1:
        col.batch.error("bad-result", at, f"each box needs exactly one label in "
                                          f"'rectanglelabels', got {labels!r}")
        return
    try:
        x, y, w, h = (float(value[key]) for key in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError, OverflowError):
        raw = {key: value.get(key) for key in ("x", "y", "width", "height")}
        col.batch.error("bad-result", at, f"a rectangle needs numeric x, y, width, height; got "
                                          f"{raw}")
        return
    rotation = value.get("rotation") or 0.0
    if not isinstance(rotation, int | float) or not abs(rotation) <= 1e-9:
        col.batch.error("rotated-box", at, f"box rotated by {value.get('rotation')} degrees; "
                                           "only axis-aligned boxes can be imported: set the "
                                           "rotation to 0 in Label Studio")
        return
    ow, oh = item.get("original_width"), item.get("original_height")
    im = col.manifest.images[col.batch.records[k].fields["package_index"]]
    if isinstance(ow, int) and isinstance(oh, int) and (ow, oh) != (im.width, im.height):
        col.batch.error("size-mismatch", at, f"annotated at {ow}x{oh} but {im.file_name} is "
                                             f"{im.width}x{im.height}")
        return
    col.box_rel(k, str(labels[0]), (x / 100, y / 100, (x + w) / 100, (y + h) / 100), at,
                wh=(w / 100, h / 100))


def _listed(col: Collector, obj: dict[str, Any], key: str, at: str) -> list[Any]:
    """``obj[key]`` when it is a list (missing: empty); anything else is an error."""
    value = obj.get(key) or []
    if isinstance(value, list):
        return value
    col.batch.error("bad-task", at, f"{key!r} must be a list, got {shown(value)}")
    return []


def parse(bundle: Bundle, members: list[str], manifest: Manifest) -> Returned:
    """Parse one Label Studio JSON export member."""
    member = single_member(bundle, members, ".json", "Label Studio .json export")
    doc = read_json(bundle, member)
    if not is_labelstudio(doc):
        raise SourceError(f"{bundle.label}: {member} is not a Label Studio JSON export "
                          "(a list of tasks)")
    col = Collector(manifest, bundle.label)
    where = col.where(member)
    with_predictions = 0
    for n, task in enumerate(doc):
        if not isinstance(task, dict):
            col.batch.error("bad-task", f"{where} [{n}]", f"a task must be an object, got "
                                                          f"{shown(task)}")
            continue
        at = f"{where} [task {task.get('id', n)}]"
        name = _task_name(task)
        if name is None:
            col.batch.error("no-image", at, "the task has no data.image / data.file_name; got "
                                            f"data {shown(task.get('data'))}")
            continue
        if "label" in task and "annotations" not in task:  # JSON_MIN
            k = col.image(name, at)
            for item in _listed(col, task, "label", at):
                if k is not None and isinstance(item, dict):
                    _add_result(col, k, item, at)
            continue
        annotation = _latest(_listed(col, task, "annotations", at))
        if annotation is None:
            with_predictions += bool(task.get("predictions"))
            continue
        k = col.image(name, at)
        if k is None:
            continue
        for item in _listed(col, annotation, "result", at):
            if isinstance(item, dict) and item.get("type", "rectanglelabels") == "rectanglelabels":
                _add_result(col, k, item, at)
    if not col.batch.records and with_predictions:
        col.prediction(where, f"{with_predictions} tasks carry predictions and none has a "
                              "submitted annotation")
    return Returned("labelstudio", col.batch, [member])
