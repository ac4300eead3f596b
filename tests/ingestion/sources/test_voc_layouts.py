"""VOC layouts (devkit root, VOCdevkit parent, FiftyOne data/labels), ImageSets splits,
true skip counters and the --skip-bad share limit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import CLASSES, REPO, cli_env, demo_images
from workbench.errors import SourceError
from workbench.ingestion.api import IngestConfig, IngestError, TooManySkippedError, ingest
from workbench.ingestion.sources import SOURCES
from workbench.ingestion.sources.voc_layout import split_of
from workbench.media.records import SourceOptions


def _voc_xml(image: Path, name: str | None = None, path_tag: str | None = None) -> str:
    """A VOC document for a demo image, boxes from its YOLO label file."""
    with Image.open(image) as im:
        w, h = im.size
    objects = []
    for line in (image.parent.parent / "labels" / f"{image.stem}.txt").read_text().splitlines():
        c, xc, yc, bw, bh = line.split()
        x1, y1 = (float(xc) - float(bw) / 2) * w, (float(yc) - float(bh) / 2) * h
        x2, y2 = x1 + float(bw) * w, y1 + float(bh) * h
        objects.append(f"<object><name>{CLASSES[int(c)]}</name><bndbox><xmin>{x1:.2f}</xmin>"
                       f"<ymin>{y1:.2f}</ymin><xmax>{x2:.2f}</xmax><ymax>{y2:.2f}</ymax>"
                       "</bndbox></object>")
    fn = f"<filename>{name if name is not None else image.name}</filename>"
    pt = f"<path>{path_tag}</path>" if path_tag else ""
    return (f"<annotation>{fn}{pt}<size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>{''.join(objects)}</annotation>")


def _devkit(root: Path, images: list[Path], sets: dict[str, list[int]] | None = None,
            image_dir: str = "JPEGImages", ann_dir: str = "Annotations") -> Path:
    """Write a VOC tree: ``sets`` list name -> indices of ``images`` (ids are the stems)."""
    (root / ann_dir).mkdir(parents=True)
    if image_dir:
        (root / image_dir).mkdir(parents=True)
    for img in images:
        if image_dir:
            shutil.copy(img, root / image_dir / img.name)
        (root / ann_dir / f"{img.stem}.xml").write_text(_voc_xml(img))
    if sets:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True)
        for name, idx in sets.items():
            (main / f"{name}.txt").write_text("".join(f"{images[i].stem}\n" for i in idx))
        (main / "fish_train.txt").write_text(f"{images[0].stem} 1\n")  # per-class: ignored
    return root


def _parse(path: Path, **options: object):  # type: ignore[no-untyped-def]
    return SOURCES.get("voc")(path, SourceOptions(**options))  # type: ignore[arg-type]


def test_devkit_root_with_image_sets(tmp_path: Path) -> None:
    imgs = demo_images(n=6)
    root = _devkit(tmp_path / "VOC2012", imgs,
                   {"train": [0, 1], "val": [2], "trainval": [0, 1, 2, 3], "test": [4]})
    batch = _parse(root)
    assert not [i for i in batch.issues if i.severity == "error"]
    split = {r.path.stem: r.split for r in batch.records}
    assert [split[i.stem] for i in imgs] == ["train", "train", "val", None, "test", None]
    assert batch.split_origin.endswith("ImageSets/Main/{test,train,trainval,val}.txt")
    assert all(r.path.parent == root / "JPEGImages" for r in batch.records)
    assert len(batch.boxes) > 0 and set(batch.boxes.label) <= set(CLASSES)
    # The VOCdevkit parent and the grand-parent find the same root; Annotations/ too.
    for p in (tmp_path, root / "Annotations"):
        again = _parse(p)
        assert [r.split for r in again.records] == [r.split for r in batch.records]
    parent = tmp_path.parent / f"{tmp_path.name}-kit"
    shutil.copytree(tmp_path, parent / "VOCdevkit")
    assert len(_parse(parent).records) == 6


def test_image_sets_conflict_and_unknown_ids(tmp_path: Path) -> None:
    imgs = demo_images(n=3)
    root = _devkit(tmp_path / "voc", imgs, {"train": [0, 1], "val": [1], "test": [2]})
    (root / "ImageSets" / "Main" / "test.txt").write_text(f"{imgs[2].stem}\nghost_01\n")
    batch = _parse(root)
    errors = [i for i in batch.issues if i.severity == "error"]
    assert [i.kind for i in errors] == ["conflicting-image-sets"]
    assert "train.txt and val.txt" in errors[0].message and imgs[1].stem in errors[0].message
    warns = [i for i in batch.issues if i.kind == "image-set-id-without-annotation"]
    assert len(warns) == 1 and "ghost_01" in warns[0].message
    # --unlabeled ignores the lists: everything goes to the pool.
    assert {r.split for r in _parse(root, unlabeled=True).records} == {"pool"}


@pytest.mark.parametrize(("a", "b", "split", "conflict"), [
    ("train", None, "train", False), ("trainval", None, None, False),
    ("trainval", "val", "val", False), ("train", "test", None, True),
    ("trainval", "test", None, True), ("test", None, "test", False)])
def test_split_of(a: str, b: str | None, split: str | None, conflict: bool) -> None:
    got, problem = split_of({a} | ({b} if b else set()))
    assert got == split and (problem is not None) == conflict


def test_fiftyone_data_labels_layout(tmp_path: Path) -> None:
    imgs = demo_images(n=3)
    root = _devkit(tmp_path / "export", imgs, image_dir="data", ann_dir="labels")
    # FiftyOne writes <path> too; a wrong <filename> falls back to its base name.
    (root / "labels" / f"{imgs[0].stem}.xml").write_text(
        _voc_xml(imgs[0], name="renamed.jpg", path_tag=f"C:\\exports\\data\\{imgs[0].name}"))
    for p in (root, root / "labels"):
        batch = _parse(p)
        assert not batch.issues and len(batch.records) == 3
        assert {r.path.parent for r in batch.records} == {root / "data"}
        assert batch.split_origin == ""


def test_devkit_without_images_names_the_folders_searched(tmp_path: Path) -> None:
    root = _devkit(tmp_path / "VOC2007", demo_images(n=2), image_dir="")
    with pytest.raises(SourceError, match=r"searched .*VOC2007/JPEGImages \(missing\).*--images"):
        _parse(root)
    kit = _devkit(tmp_path / "fo", demo_images(n=1), image_dir="", ann_dir="labels")
    with pytest.raises(SourceError, match=r"fo/data \(missing\)"):
        _parse(kit)


def test_missing_image_names_the_folders_searched(tmp_path: Path) -> None:
    imgs = demo_images(n=2)
    root = _devkit(tmp_path / "voc", imgs)
    (root / "JPEGImages" / imgs[1].name).unlink()
    batch = _parse(root)
    assert batch.dropped == 1 and len(batch.records) == 1
    (issue,) = batch.issues
    assert issue.kind == "missing-image" and f"searched {root / 'JPEGImages'}" in issue.message


def test_several_roots_are_refused(tmp_path: Path) -> None:
    _devkit(tmp_path / "VOC2007", demo_images(n=1))
    _devkit(tmp_path / "VOC2012", demo_images(n=1))
    with pytest.raises(SourceError, match="several VOC roots"):
        _parse(tmp_path)


# --- ingest: counters and the --skip-bad share limit ---------------------------------------

def test_devkit_ingest_reports_splits_and_true_counters(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    imgs = demo_images(n=5)
    root = _devkit(tmp_path / "VOC2012", imgs, {"train": [0, 1], "val": [2], "test": [3]})
    (root / "JPEGImages" / imgs[4].name).unlink()           # dropped: no image
    (root / "Annotations" / "broken.xml").write_text("<annotation>")  # dropped: bad XML
    with pytest.raises(IngestError, match=r"2 error\(s\) in the input \(2 image\(s\)"):
        ingest(workspace, root, "voc")
    r = ingest(workspace, root, "voc", skip_bad=True)
    assert (r.images_found, r.added, r.skipped_bad) == (6, 4, 2)
    assert r.images_found == r.added + r.already_present + r.duplicates_in_input + r.skipped_bad
    assert r.source_splits == {"test": 1, "train": 2, "val": 1}
    assert "ImageSets/Main" in r.split_origin and r.to_dict()["split_origin"] == r.split_origin
    splits = sorted(workspace.dataset.values("split"))
    assert splits == ["test", "train", "train", "val"]
    again = ingest(workspace, root, "voc", skip_bad=True)
    assert (again.images_found, again.added, again.already_present, again.skipped_bad) == (
        6, 0, 4, 2)


def test_skip_bad_that_skips_everything_fails_and_writes_nothing(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    imgs = demo_images(n=3)
    flat = tmp_path / "flat"                       # the reported case: XMLs, no image folder
    _devkit(flat, imgs, image_dir="")
    for xml in (flat / "Annotations").iterdir():
        xml.rename(flat / xml.name)
    (flat / "Annotations").rmdir()
    with pytest.raises(TooManySkippedError) as info:
        ingest(workspace, flat, "voc", skip_bad=True)
    r = info.value.result
    assert (r.images_found, r.added, r.skipped_bad) == (3, 0, 3)
    msg = str(info.value)
    assert "skip 3 of 3 image(s) (100%), every image" in msg
    assert f"searched {flat}" in msg and "nothing was written" in msg
    assert len(workspace.dataset) == 0 and not workspace.classes
    with pytest.raises(TooManySkippedError):            # even when the share allows it all
        ingest(workspace, flat, "voc", skip_bad=True, max_skipped_share=1.0)


def test_skip_bad_share_limit(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    imgs = demo_images(n=4)
    root = _devkit(tmp_path / "voc", imgs)
    for img in imgs[:3]:
        (root / "JPEGImages" / img.name).unlink()
    with pytest.raises(TooManySkippedError, match=r"skip 3 of 4 image\(s\) \(75%\), more than "
                                                  r"--max-skipped 50%"):
        ingest(workspace, root, "voc", skip_bad=True)
    assert len(workspace.dataset) == 0
    r = ingest(workspace, root, "voc", skip_bad=True, max_skipped_share=0.75)
    assert (r.added, r.skipped_bad) == (1, 3)


def test_max_skipped_share_is_validated() -> None:
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match=r"within 0\.\.1"):
        IngestConfig(path="x", format="voc", max_skipped_share=1.5)


def test_cli_skip_bad_all_failing_exits_non_zero(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.cli.main import build_app

    root = _devkit(tmp_path / "voc", demo_images(n=2))
    shutil.rmtree(root / "JPEGImages")
    (root / "JPEGImages").mkdir()                        # present but empty
    args = ["ingest", str(root), "-f", "voc", "--skip-bad", "-w", str(workspace.root)]
    res = CliRunner().invoke(build_app(), args)
    assert res.exit_code != 0 and isinstance(res.exception, TooManySkippedError)
    assert len(workspace.dataset) == 0


@pytest.mark.slow
def test_cli_process_skip_bad_all_failing(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _devkit(tmp_path / "voc", demo_images(n=2))
    shutil.rmtree(root / "JPEGImages")
    (root / "JPEGImages").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "ingest", str(root), "-f", "voc", "--skip-bad",
         "-w", str(workspace.root)], capture_output=True, text=True, env=cli_env(), cwd=REPO,
        timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "skip 2 of 2 image(s)" in proc.stderr and "missing-image: 2" in proc.stderr
    assert len(workspace.dataset) == 0
