from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CLASSES, DEMO, demo_images, make_yolo
from workbench.errors import SourceError
from workbench.ingestion.sources.yolo import parse
from workbench.media.records import SourceOptions


def _kinds(batch) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({i.kind for i in batch.issues})


def test_demo_dataset_counts_match_label_files() -> None:
    batch = parse(DEMO, SourceOptions())
    assert len(batch.records) == 638
    lines = sum(len(p.read_text().split("\n")) - (p.read_text().endswith("\n"))
                for p in DEMO.glob("*/labels/*.txt") if p.read_text().strip())
    assert len(batch.boxes) == lines
    splits = [r.split for r in batch.records]
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (448, 127, 63)
    assert batch.class_names == CLASSES


def test_box_conversion_and_negative(tmp_path: Path) -> None:
    imgs = demo_images(n=2)
    root = make_yolo(tmp_path, {"train": imgs},
                     labels={imgs[0].stem: "2 0.5 0.5 0.2 0.4\n", imgs[1].stem: ""})
    batch = parse(root / "data.yaml", SourceOptions())
    image, label, xyxyn = batch.boxes.arrays()
    assert image.tolist() == [0]
    assert label.tolist() == ["penguin"]
    np.testing.assert_allclose(xyxyn[0], [0.4, 0.3, 0.6, 0.7])
    assert all(r.labeled for r in batch.records)
    assert batch.issues == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0 0.5 0.5 0.2\n", "bad-field-count"),
        ("0 0.5 0.5 0.2 0.2 0.9\n", "bad-field-count"),
        ("x 0.5 0.5 0.2 0.2\n", "bad-number"),
        ("0 0.5 abc 0.2 0.2\n", "bad-number"),
        ("7 0.5 0.5 0.2 0.2\n", "class-id-out-of-range"),
        ("-1 0.5 0.5 0.2 0.2\n", "class-id-out-of-range"),
    ],
)
def test_bad_label_lines_name_file_and_line(tmp_path: Path, text: str, kind: str) -> None:
    img = demo_images(n=1)[0]
    root = make_yolo(tmp_path, {"train": [img]}, labels={img.stem: "0 0.5 0.5 0.1 0.1\n" + text})
    batch = parse(root, SourceOptions())
    assert _kinds(batch) == [kind]
    issue = batch.issues[0]
    assert issue.line == 2 and issue.file.endswith(f"{img.stem}.txt") and issue.image == 0
    assert issue.severity == "error"


def test_label_without_image_and_missing_label(tmp_path: Path) -> None:
    imgs = demo_images(n=2)
    root = make_yolo(tmp_path, {"train": imgs})
    (root / "train" / "labels" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "train" / "labels" / f"{imgs[1].stem}.txt").unlink()
    batch = parse(root, SourceOptions())
    by_kind = {i.kind: i for i in batch.issues}
    assert by_kind["label-without-image"].severity == "error"
    assert by_kind["label-without-image"].file.endswith("orphan.txt")
    assert by_kind["no-label-file"].severity == "warning"


def test_unlabeled_ignores_labels(tmp_path: Path) -> None:
    root = make_yolo(tmp_path, {"train": demo_images(n=3)})
    batch = parse(root, SourceOptions(unlabeled=True))
    assert len(batch.boxes) == 0
    assert {r.split for r in batch.records} == {"pool"}
    assert not any(r.labeled for r in batch.records)


def test_names_as_mapping_and_errors(tmp_path: Path) -> None:
    root = make_yolo(tmp_path, {"train": demo_images(n=1)})
    text = (root / "data.yaml").read_text().splitlines()[:-1]
    (root / "data.yaml").write_text("\n".join([*text, "names: {0: a, 1: b}"]))
    # the demo label has class ids above 1 -> out of range against this mapping
    batch = parse(root, SourceOptions())
    assert batch.class_names == ["a", "b"]
    (root / "data.yaml").write_text("\n".join([*text, "names: {0: a, 2: b}"]))
    with pytest.raises(SourceError, match="without gaps"):
        parse(root, SourceOptions())
    (root / "data.yaml").write_text("train: nowhere/images\nnames: [a]\n")
    with pytest.raises(SourceError, match=r"neither a folder nor a \.txt list"):
        parse(root, SourceOptions())


def test_missing_path() -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        parse(Path("/nonexistent/data"), SourceOptions())


def test_txt_image_lists(tmp_path: Path) -> None:
    imgs = demo_images(n=4)
    root = make_yolo(tmp_path, {"train": imgs})
    (root / "some.txt").write_text("\n".join(f"./train/images/{p.name}" for p in imgs[:3]))
    (root / "list.yaml").write_text(f"train: some.txt\nnames: {CLASSES}\n")
    batch = parse(root / "list.yaml", SourceOptions())
    assert [r.path.name for r in batch.records] == [p.name for p in imgs[:3]]
    assert len(batch.boxes) > 0 and batch.issues == []
    (root / "some.txt").write_text("./train/images/missing.jpg\n")
    with pytest.raises(SourceError, match=r"some.txt:1: image .* not found"):
        parse(root / "list.yaml", SourceOptions())
