"""SIGKILL crash harness: real CLI processes, the workspace's own embedded mongod, seeded kills.

A scenario runs one writing command (the *operation*) on a workspace in a known BEFORE state,
kills it (or the embedded mongod) with SIGKILL after a random delay, then checks that the store
is all-BEFORE or all-AFTER, that ``status`` refuses a workspace with an unfinished operation,
that ``recover`` repairs it, that ``check`` passes and that re-running the command finishes the
work. AFTER comes from one uninterrupted reference run.

The store is read with pymongo directly (the test process must not hold FiftyOne's
one-connection-per-process state, and each workspace has its own mongod).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from tests.annotation import writers
from tests.conftest import CLASSES, REPO, cli_env

#: Iterations per scenario and the seed of the kill delays (and of the generated data).
ITERATIONS = int(os.environ.get("WORKBENCH_CRASH_ITERATIONS", "2"))
SEED = int(os.environ.get("WORKBENCH_CRASH_SEED", "1313"))

STATUSES = ("unlabeled", "queued", "in_annotation", "labeled")
SPLITS = ("train", "val", "test", "pool")
COMMAND_TIMEOUT = 300


def log(message: str) -> None:
    """Progress line on stderr (shown with ``pytest -s`` and in the failure report)."""
    print(f"[crash] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running the CLI


def wb(*args: str, check: bool = True, timeout: int = COMMAND_TIMEOUT
       ) -> subprocess.CompletedProcess[str]:
    """Run ``workbench ARGS`` to completion in a fresh process."""
    proc = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env=cli_env(), timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def wb_json(*args: str) -> Any:
    """``workbench ARGS --json``, parsed."""
    return json.loads(wb(*args, "--json").stdout)


@dataclass
class Kill:
    """What happened to one killed command."""

    target: str  # "cli" or "mongod"
    delay: float  # seconds after the start
    killed: bool  # False: the command had already ended
    returncode: int | None
    stderr: str
    exit_seconds: float = 0.0  # from the kill to the command's end
    hung: bool = False  # mongod killed: the command did not end within the grace time

    def describe(self) -> str:
        if not self.killed:
            return f"had ended (rc {self.returncode})"
        if self.target == "cli":
            return "killed"
        last = (self.stderr.strip().splitlines() or [""])[-1][:120]
        if self.hung:
            return f"killed; the command hung {self.exit_seconds:.0f}s, then SIGKILLed too"
        return (f"killed; the command exited {self.exit_seconds:.1f}s later with rc "
                f"{self.returncode} ({last!r})")


#: Seconds a command may go on after its mongod was killed: it must fail on its own by then
#: (the embedded database's 10 s server selection timeout, at most a few times), with one
#: message and no traceback; one that has not is a problem, and is killed.
MONGOD_GRACE = float(os.environ.get("WORKBENCH_CRASH_MONGOD_GRACE", "60"))


def run_and_kill(args: list[str], moment: Moment, target: str, store: Store,
                 probe: Callable[[Any], Any]) -> Kill:
    """Start ``workbench ARGS``, SIGKILL it (or the workspace's mongod) at ``moment``.

    Killing mongod leaves the command running against a dead server: it is given
    :data:`MONGOD_GRACE` seconds to fail on its own, then killed too.

    Args:
        args: the command.
        moment: when to kill (see :func:`draw_delays`).
        target: ``"cli"`` or ``"mongod"``.
        store: the workspace's store.
        probe: what :meth:`Store.timed_run` watched (for ``("write", s)`` moments).
    """
    kind, delay = moment
    with tempfile.TemporaryFile("w+") as err_fh:  # a file: a full pipe would block it
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                                stdout=subprocess.DEVNULL, stderr=err_fh, env=cli_env(),
                                cwd=REPO)
        killed = hung = False
        if kind == "write":
            store.wait_for_change(proc, probe)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            delay = time.perf_counter() - t0
            if target == "cli":
                proc.send_signal(signal.SIGKILL)
                killed = True
            else:
                pid = mongod_pid(store.dbdir)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    _wait_dead(pid)
                    killed = True
        killed_at = time.perf_counter()
        try:
            proc.wait(timeout=MONGOD_GRACE if target == "mongod" else 60)
        except subprocess.TimeoutExpired:
            hung = True
            proc.kill()
            proc.wait(timeout=60)
        err_fh.seek(0)
        err = err_fh.read()
    return Kill(target, round(delay, 3), killed, proc.returncode, err,
                time.perf_counter() - killed_at, hung)


def _wait_dead(pid: int, timeout: float = 30) -> None:
    from workbench.store.mongod import pid_alive

    deadline = time.time() + timeout
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)


#: A kill moment: ("at", seconds after the start) or ("write", seconds after the first write
#: to the store was seen).
Moment = tuple[str, float]


def draw_delays(rng: np.random.Generator, n: int, clean_seconds: float,
                window: tuple[float, float] | None = None) -> list[Moment]:
    """``n`` kill moments: uniform over ``[0, 1.1 x clean_seconds]``, one per stratum.

    Stratified so that even a few iterations land before, inside and after the write phase.
    With ``window`` (when a clean run was seen writing), every second kill instead comes a
    uniform time within the write phase's length after the killed run's first write is
    seen: the write phase is often a small part of a command's life (start-up, parsing and
    validation come first, and their length varies from run to run), and it is where a kill
    can leave half an operation.
    """
    span = 1.1 * clean_seconds
    n_window = n // 2 if window else 0
    n_uniform = n - n_window
    uniform = [("at", (k + rng.uniform()) / n_uniform * span) for k in rng.permutation(n_uniform)]
    length = window[1] - window[0] if window else 0.0
    inside = [("write", rng.uniform(0, length)) for _ in range(n_window)]
    moments = ([uniform[k // 2] if k % 2 == 0 else inside[k // 2] for k in range(n)]
               if n_window else uniform)
    return [(kind, round(float(d), 3)) for kind, d in moments]


# ---------------------------------------------------------------- generated data


@dataclass
class Dataset:
    """A generated YOLO dataset: ``root/train/{images,labels}`` plus ``data.yaml``."""

    root: Path
    images: list[Path]
    truth: dict[str, list[tuple[str, list[float]]]]  # image stem -> [(label, relative xywh)]

    @property
    def image_dir(self) -> Path:
        return self.root / "train" / "images"


def make_dataset(root: Path, n_images: int, boxes_per_image: int, seed: int) -> Dataset:
    """Small distinct noise JPEGs (64x48) with ``boxes_per_image`` valid YOLO boxes each."""
    rng = np.random.default_rng(seed)
    images_dir, labels_dir = root / "train" / "images", root / "train" / "labels"
    images_dir.mkdir(parents=True)
    labels_dir.mkdir(parents=True)
    images, truth = [], {}
    for i in range(n_images):
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        pixels[0, :4, 0] = np.frombuffer(i.to_bytes(4, "big"), dtype=np.uint8)  # distinct
        path = images_dir / f"img{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        wh = rng.uniform(0.05, 0.3, (boxes_per_image, 2))
        xy = rng.uniform(0.0, 1.0, (boxes_per_image, 2)) * (1 - wh)
        cls = rng.integers(0, len(CLASSES), boxes_per_image)
        # 6 decimals as written, so the truth is exactly what the label file says
        xy, wh = np.round(xy, 6), np.round(wh, 6)
        lines, rows = [], []
        for (x, y), (w, h), c in zip(xy.tolist(), wh.tolist(), cls.tolist(), strict=True):
            lines.append(f"{c} {x + w / 2:.7f} {y + h / 2:.7f} {w:.6f} {h:.6f}")
            rows.append((CLASSES[c], [x, y, w, h]))
        (labels_dir / f"{path.stem}.txt").write_text("\n".join(lines) + "\n")
        images.append(path)
        truth[path.stem] = rows
    (root / "data.yaml").write_text(f"path: .\ntrain: train/images\nnames: {CLASSES}\n")
    return Dataset(root, images, truth)


@dataclass
class Round:
    """A workspace with every image in annotation, its package and the answers."""

    ws: Path
    package: Path
    answers: Path


def annotation_round(folder: Path, data: Dataset, n_images: int, *init_args: str) -> Round:
    """Init a workspace in ``folder`` (with ``init_args``), ingest ``data`` unlabeled, export
    every image for annotation, and write the true boxes as COCO answers."""
    ws = folder / "ws"
    wb("init", str(ws), "--classes", ",".join(CLASSES), *init_args)
    wb("ingest", str(data.image_dir), "-f", "images", "-w", str(ws))
    package = folder / "round.zip"
    exported = wb_json("annotate", "export", "--view", "pool", "--out", str(package),
                       "--no-thumbnails", "-w", str(ws))
    assert exported["images"] == n_images
    with zipfile.ZipFile(package) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    stem = {hashlib.sha256(p.read_bytes()).hexdigest(): p.stem for p in data.images}
    truth: writers.Truth = {im["file_name"]: (im["width"], im["height"],
                                              data.truth[stem[im["sha256"]]])
                            for im in manifest["images"]}
    return Round(ws, package, writers.coco(truth, folder / "answers.coco.json"))


def predictions_jsonl(ds: Dataset, path: Path, seed: int) -> Path:
    """A ``predictions import`` file: every image, its boxes shifted a little, a confidence."""
    rng = np.random.default_rng(seed)
    with path.open("w") as fh:
        for img in ds.images:
            dets = []
            for label, (x, y, w, h) in ds.truth[img.stem]:
                dx = float(rng.uniform(-0.01, 0.01))
                dets.append({"label": label, "box": [min(max(x + dx, 0.0), 1 - w), y, w, h],
                             "confidence": round(float(rng.uniform(0.05, 1.0)), 4)})
            fh.write(json.dumps({"filepath": str(img.resolve()), "detections": dets}) + "\n")
    return path


# ---------------------------------------------------------------- the store, read with pymongo

#: One sample's state: (ground truth, status, split, tags, round, prediction).
Row = tuple[Any, ...]


@dataclass
class Snapshot:
    """Per sample (by filepath) the fields an operation may change, plus every content hash."""

    rows: dict[str, Row]
    hashes: list[str | None]
    journal: list[dict[str, Any]] = field(default_factory=list)

    def diff(self, other: Snapshot, limit: int = 3) -> str:
        """A short description of how ``other`` differs from this snapshot."""
        keys = set(self.rows) | set(other.rows)
        bad = sorted(k for k in keys if self.rows.get(k) != other.rows.get(k))
        parts = [f"{len(self.rows)} vs {len(other.rows)} samples, {len(bad)} differ"]
        for k in bad[:limit]:
            parts.append(f"  {Path(k).name}: {_short(self.rows.get(k))} -> "
                         f"{_short(other.rows.get(k))}")
        return "\n".join(parts)


def _short(row: Row | None) -> str:
    if row is None:
        return "absent"
    gt, status, split, tags, rnd, pred = row
    return (f"gt={len(gt) if gt is not None else None} boxes, {status}, {split}, tags={tags}, "
            f"round={rnd}, pred={len(pred) if pred is not None else None}")


def _boxes(doc: Any, with_conf: bool = False) -> tuple[Any, ...] | None:
    """Labels and boxes of a Detections document (ids and attributes ignored), sorted."""
    if not isinstance(doc, dict) or doc.get("detections") is None:
        return None
    rows = []
    for d in doc["detections"]:
        box = tuple(round(float(v), 6) for v in d.get("bounding_box") or ())
        rows.append((d.get("label"), box,
                     round(float(d.get("confidence") or 0), 6) if with_conf else None))
    return tuple(sorted(rows, key=repr))


class Store:
    """Read access to one workspace's store through its embedded mongod."""

    def __init__(self, ws: Path) -> None:
        self.ws = ws
        config = yaml.safe_load((ws / "workbench.yaml").read_text())
        self.name = str(config.get("name") or config.get("dataset"))
        dbdir = Path(config.get("database_dir") or ".fiftyone-db")
        self.dbdir = (dbdir if dbdir.is_absolute() else ws / dbdir).resolve()

    def _db(self) -> Any:
        import pymongo

        from workbench.store import mongod

        uri = mongod.ensure_running(self.dbdir, register=False)
        client: Any = pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)
        for name in client.list_database_names():
            if client[name]["datasets"].find_one({"name": self.name}) is not None:
                return client[name]
        raise AssertionError(f"dataset {self.name!r} not found in {self.dbdir}")

    def timed_run(self, args: list[str], probe: Callable[[Any], Any]
                  ) -> tuple[float, tuple[float, float] | None, str]:
        """Run ``workbench ARGS`` uninterrupted, watching the store while it runs.

        Args:
            args: the command.
            probe: a cheap read of the sample collection (e.g. a count) that changes as the
                command writes.

        Returns:
            The command's wall time, the ``(first, last)`` seconds after its start at which
            ``probe`` was seen changing (None if never), and its stdout.
        """
        db = self._db()
        try:
            coll = db[db["datasets"].find_one({"name": self.name})["sample_collection_name"]]
            last = probe(coll)
            first_change = last_change = None
            # files, not pipes: a full pipe would block the command while it is watched
            with tempfile.TemporaryFile("w+") as out_fh, tempfile.TemporaryFile("w+") as err_fh:
                t0 = time.perf_counter()
                proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], text=True,
                                        stdout=out_fh, stderr=err_fh, env=cli_env(), cwd=REPO)
                while proc.poll() is None:
                    value = probe(coll)
                    if value != last:
                        last, last_change = value, time.perf_counter() - t0
                        first_change = first_change if first_change is not None else last_change
                    time.sleep(0.01)
                seconds = time.perf_counter() - t0
                out_fh.seek(0)
                err_fh.seek(0)
                out, err = out_fh.read(), err_fh.read()
        finally:
            db.client.close()
        if proc.returncode != 0:
            raise AssertionError(f"workbench {' '.join(args)} failed: {err[-3000:]}")
        window = None
        if first_change is not None and last_change is not None:
            window = (max(0.0, first_change - 0.15), last_change + 0.05)
        return seconds, window, out

    def wait_for_change(self, proc: subprocess.Popen[str], probe: Callable[[Any], Any]) -> None:
        """Poll ``probe`` until its value changes or ``proc`` ends."""
        db = self._db()
        try:
            coll = db[db["datasets"].find_one({"name": self.name})["sample_collection_name"]]
            first = probe(coll)
            while proc.poll() is None and probe(coll) == first:
                time.sleep(0.01)
        finally:
            db.client.close()

    def snapshot(self, pred_field: str | None = None) -> Snapshot:
        """The state of every sample (``pred_field``: the prediction field to include)."""
        db = self._db()
        try:
            doc = db["datasets"].find_one({"name": self.name}, {"sample_collection_name": 1})
            fields = {"filepath": 1, "content_hash": 1, "ground_truth": 1, "status": 1,
                      "split": 1, "tags": 1, "round_selected": 1}
            if pred_field:
                fields[pred_field] = 1
            rows: dict[str, Row] = {}
            hashes = []
            for d in db[doc["sample_collection_name"]].find({}, fields):
                rows[d["filepath"]] = (
                    _boxes(d.get("ground_truth")), d.get("status"), d.get("split"),
                    tuple(sorted(d.get("tags") or [])), d.get("round_selected"),
                    _boxes(d.get(pred_field), True) if pred_field else None)
                hashes.append(d.get("content_hash"))
            return Snapshot(rows, hashes)
        finally:
            db.client.close()


def mongod_pid(dbdir: Path) -> int | None:
    """The pid of the workspace's embedded mongod, from its state file."""
    from workbench.store import mongod

    try:
        return int(json.loads((dbdir / mongod.STATE_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def stop_mongods(folder: Path) -> None:
    """Stop every embedded mongod whose data lies under ``folder``."""
    from workbench.store import mongod

    for state in folder.rglob(mongod.STATE_FILE):
        mongod.stop(state.parent)


# ---------------------------------------------------------------- invariants


def consistency_problems(snap: Snapshot) -> list[str]:
    """Tags mirror status and split; queued samples have a round; labeled ones have ground
    truth; no content hash twice."""
    problems = []
    for fp, (gt, status, split, tags, rnd, _) in snap.rows.items():
        name = Path(fp).name
        mirrored = {t for t in tags if t in STATUSES or t in SPLITS}
        if mirrored != {s for s in (status, split) if s}:
            problems.append(f"{name}: tags {list(tags)} do not mirror status={status} "
                            f"split={split}")
        if status == "labeled" and gt is None:
            problems.append(f"{name}: labeled without ground truth")
        if status == "queued" and not rnd:
            problems.append(f"{name}: {status} without a round")
    dup = [h for h, n in Counter(snap.hashes).items() if n > 1]
    if dup:
        problems.append(f"{len(dup)} content_hash(es) shared by more than one sample: {dup[:3]}")
    return problems[:10]


@dataclass
class Iteration:
    """The record of one killed run, for the report."""

    scenario: str
    index: int
    kill: Kill
    phase: str = ""  # before / half / after: what the kill left, before any recovery
    status_rc: int | None = None
    recovered: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        k = self.kill
        return (f"{self.scenario} #{self.index}: {k.target} SIGKILL at {k.delay:.2f}s -> "
                f"{k.describe()}; "
                f"left {self.phase}; status rc {self.status_rc}; recovered "
                f"{[_command(r) for r in self.recovered]}; "
                f"{'OK' if not self.problems else f'{len(self.problems)} problem(s)'} "
                f"({self.seconds:.1f}s)")


def _command(record: Any) -> str:
    """``workbench predictions import FILE ...`` -> ``predictions import``."""
    words = str(record.get("command") if isinstance(record, dict) else record).split()
    return " ".join(w for w in words[:3] if w != "workbench" and not w.startswith(("/", "-")))


def phase_of(now: Snapshot, before: Snapshot, after: Snapshot) -> str:
    """Whether ``now`` is the BEFORE state, the AFTER state, or something in between."""
    if now.rows == before.rows:
        return "before"
    if now.rows == after.rows:
        return "after"
    return "half"


def status_and_recover(it: Iteration, ws: Path, left: str) -> None:
    """``status`` (refuses an unrecovered operation, else succeeds), then ``recover --json``.

    Args:
        it: the iteration record (problems are appended).
        ws: the workspace.
        left: what the kill left in the store (before / half / after).
    """
    k = it.kill
    if k.target == "mongod" and k.killed:
        if k.hung:
            it.problems.append(f"the command hung {k.exit_seconds:.0f} s after its database "
                               "died instead of failing")
        elif "Traceback" in k.stderr:
            it.problems.append(f"the command failed with a traceback: {k.stderr[-800:]}")
    st = wb("status", "-w", str(ws), "--json", check=False)
    it.status_rc = st.returncode
    if "Traceback" in st.stderr:
        it.problems.append(f"status printed a traceback:\n{st.stderr[-2000:]}")
    if st.returncode == 3:
        if "workbench recover" not in st.stderr:
            it.problems.append(f"status refused without naming `workbench recover`: "
                               f"{st.stderr[-500:]}")
    elif st.returncode != 0:
        it.problems.append(f"status failed with exit code {st.returncode}: {st.stderr[-1000:]}")
    elif left == "half":
        it.problems.append("status accepted a workspace holding half an operation (exit 0)")
    rec = wb("recover", "-w", str(ws), "--json", check=False)
    if rec.returncode != 0 or "Traceback" in rec.stderr:
        it.problems.append(f"recover failed ({rec.returncode}): {rec.stderr[-1500:]}")
        return
    try:
        it.recovered = list(json.loads(rec.stdout)["recovered"])
    except (ValueError, KeyError, TypeError) as exc:
        it.problems.append(f"recover --json printed no 'recovered' list ({exc}): "
                           f"{rec.stdout[-500:]}")
        return
    if st.returncode == 3 and not it.recovered:
        it.problems.append("status refused (exit 3) but recover found nothing to recover")
    again = wb("status", "-w", str(ws), "--json", check=False)
    if again.returncode != 0:
        it.problems.append(f"status still fails after recover ({again.returncode}): "
                           f"{again.stderr[-500:]}")


def check_recovered(it: Iteration, ws: Path, now: Snapshot, before: Snapshot,
                    after: Snapshot) -> None:
    """After recovery: all-before or all-after, consistent, ``check --json`` ok."""
    if phase_of(now, before, after) == "half":
        it.problems.append("after recovery the store is neither BEFORE nor AFTER: "
                           f"vs BEFORE {before.diff(now)}\nvs AFTER {after.diff(now)}")
    it.problems.extend(consistency_problems(now))
    chk = wb("check", "-w", str(ws), "--json", check=False)
    try:
        ok = bool(json.loads(chk.stdout).get("ok"))
    except ValueError:
        ok = False
    if chk.returncode != 0 or not ok:
        it.problems.append(f"check failed (exit {chk.returncode}): {chk.stdout[-800:]} "
                           f"{chk.stderr[-800:]}")


def report(iterations: list[Iteration]) -> str:
    """Every iteration's line, then the problems of the failed ones."""
    lines = [f"seed {SEED}, {ITERATIONS} iteration(s) per scenario "
             "(WORKBENCH_CRASH_SEED / WORKBENCH_CRASH_ITERATIONS)"]
    lines += [it.line() for it in iterations]
    for it in iterations:
        for p in it.problems:
            lines.append(f"{it.scenario} #{it.index} (kill at {it.kill.delay:.2f}s): {p}")
    return "\n".join(lines)
