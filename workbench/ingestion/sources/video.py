"""Video files: sampled frames become unlabeled pool images.

A file, or a folder searched recursively for video files (``.mp4 .mov .avi .mkv .webm .m4v
.mpg .mpeg .ts .wmv``, any case), is decoded with PyAV. Frames are sampled by decoded index
(``every``: every N-th frame) or by presentation time (``fps``: this many per second; default
1). A sampled frame whose 64-bit difference hash (:func:`workbench.core.phash.dhash`) is
within ``dedup_threshold`` bits (default 4; 0 keeps all) of the last *kept* frame of the same
video is left out and counted (one ``near-duplicate-frames`` warning per video). The display
rotation the stream declares (its display matrix, read as ``VideoFrame.rotation``) is applied,
so frames are stored as a player shows them (flips in the matrix are not applied).

Each kept frame is written once as a JPEG (quality 95) named by the sha256 of its bytes under
``media/video/<sha[:2]>/`` of the workspace. Samples carry ``source_id`` ``<video>@<frame
index>``, ``group`` = the video's relative path (splits never separate neighbouring frames),
and the fields ``video_path``, ``frame_index`` and ``timestamp_s``.

A video that cannot be opened, or holds no video stream, is dropped with an error. A video
that breaks off while decoding (a decode error, or fewer frames / seconds than its header
declares: a truncated copy) keeps every frame read before the break, and its unreadable rest
is dropped with an error: the ingest refuses it unless ``--skip-bad`` is given, which ingests
the readable frames.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.phash import dhash, hamming
from workbench.errors import SourceError
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions
from workbench.optional import require

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                            ".ts", ".wmv"})
#: sample fields of a frame (``frame_index`` holds whole numbers; the store has no int kind).
EXTRA_FIELDS = {"video_path": "string", "frame_index": "float", "timestamp_s": "float"}
DEFAULT_FPS = 1.0
DEFAULT_DEDUP_THRESHOLD = 4
JPEG_QUALITY = 95
_EPS = 1e-6
_FIX = "re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or remove it"


@dataclass(frozen=True)
class Sampling:
    """Which frames to keep.

    Attributes:
        every: keep decoded frames ``0, every, 2 * every ...`` (None: sample by time).
        fps: keep the first frame at or after each ``1 / fps`` seconds step, counted from the
            video's first frame.
        dedup_threshold: drop a sampled frame within this many hash bits of the last kept
            one (0: keep all).
    """

    every: int | None = None
    fps: float = DEFAULT_FPS
    dedup_threshold: int = DEFAULT_DEDUP_THRESHOLD

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Sampling:
        """From ``SourceOptions.params`` (``every``, ``fps``, ``dedup_threshold``)."""
        every, fps = params.get("every"), params.get("fps")
        threshold = params.get("dedup_threshold")
        if every is not None and fps is not None:
            raise SourceError("video: give every (--every N) or fps (--fps F), not both")
        if every is not None and (int(every) != every or every < 1):
            raise SourceError(f"video: --every must be a whole number >= 1, got {every}")
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise SourceError(f"video: --fps must be a number above 0, got {fps}")
        if threshold is not None and not 0 <= threshold <= 64:
            raise SourceError(f"video: --dedup-threshold is a number of bits in 0..64, got "
                              f"{threshold}")
        return cls(every=int(every) if every is not None else None,
                   fps=float(fps) if fps is not None else DEFAULT_FPS,
                   dedup_threshold=int(threshold) if threshold is not None
                   else DEFAULT_DEDUP_THRESHOLD)


def list_videos(folder: Path) -> list[Path]:
    """Video files under ``folder`` (recursive, hidden files and folders skipped), sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, f) for f in filenames
                     if not f.startswith(".") and os.path.splitext(f)[1].lower() in VIDEO_SUFFIXES)
    return [Path(p) for p in sorted(found)]


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Sample frames of a video file, or of every video under a folder.

    Raises:
        SourceError: the path does not exist, a folder holds no video file, bad sampling
            options, or no workspace to write frames into.
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder; give a video file or a folder of "
                          "videos")
    sampling = Sampling.from_params(options.params)
    if path.is_file():
        videos, base = [path], path.parent
    else:
        videos, base = list_videos(path), path
        if not videos:
            raise SourceError(
                f"{path}: no video files found (searched recursively for "
                f"{', '.join(sorted(VIDEO_SUFFIXES))}, any case); point at a video or a folder "
                "holding some")
    if options.workspace_root is None:
        raise SourceError("video ingest needs a workspace to write the frames into")
    media = options.workspace_root / "media" / "video"
    batch = SourceBatch(extra_fields=dict(EXTRA_FIELDS))
    for video in videos:
        _read_video(video, video.relative_to(base).as_posix(), sampling, media, batch)
    return batch


def _read_video(video: Path, rel: str, sampling: Sampling, media: Path,
                batch: SourceBatch) -> None:
    """Append the kept frames of one video to ``batch`` (issues for what went wrong)."""
    av = require("av", "sources", what="ingest --format video")  # imported when needed

    try:
        container = av.open(str(video))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        batch.drop("unreadable-video", video,
                   f"cannot open it as a video ({exc}): it is not a video file, or it is "
                   f"damaged or truncated (an MP4/MOV cut short loses its index); {_FIX}")
        return
    with container:
        if not container.streams.video:
            batch.drop("no-video-stream", video, "the file holds no video stream (audio or "
                       "data only); remove it or point at the video files only")
            return
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        step = 1.0 / sampling.fps
        t0: float | None = None  # fps sampling: keep the first frame at or after each
        slot = 0.0  # t0 + k * step, the next one being ``slot``
        index = -1
        last_t = None
        last_hash: np.uint64 | None = None
        sampled = near_dupes = 0
        first = len(batch.records)
        failure: str | None = None
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, MemoryError, ValueError) as exc:
                failure = f"decoding failed ({exc})"
                break
            index += 1
            t = _timestamp(frame, index, rate)
            last_t = t
            if sampling.every is not None:
                if index % sampling.every:
                    continue
            else:
                if t0 is None:
                    t0 = t
                elif t < slot - _EPS:
                    continue
                slot = t0 + step * (math.floor((t - t0) / step + _EPS) + 1)
            sampled += 1
            if sampling.dedup_threshold:
                h = dhash(_luma(frame))
                if last_hash is not None and hamming(h, last_hash) <= sampling.dedup_threshold:
                    near_dupes += 1
                    continue
                last_hash = h
            image_path, created = _write_frame(_rgb(frame), media)
            batch.records.append(ImageRecord(
                image_path, f"{rel}@{index}", labeled=False, split="pool", group=rel,
                fields={"video_path": str(video.resolve()), "frame_index": index,
                        "timestamp_s": t}, created_media=created))
        if failure is None:
            failure = _truncation(container, stream, index + 1, last_t, rate)
    if near_dupes:
        batch.warn("near-duplicate-frames", video,
                   f"{near_dupes} of {sampled} sampled frames were within "
                   f"{sampling.dedup_threshold} bits (of a 64-bit perceptual hash) of the last "
                   f"kept frame and were left out; {sampled - near_dupes} kept. Pass "
                   "--dedup-threshold 0 to keep every sampled frame, a lower value to keep "
                   "more, a higher one to keep fewer")
    if failure is None:
        return
    if index < 0:
        batch.drop("unreadable-video", video, f"no frame could be read: {failure}; {_FIX}")
        return
    batch.drop("video-decode-error", video,
               f"{rel}: {failure}; the last good timestamp is {last_t:.3f} s (frame #{index}, "
               f"{index + 1} frame(s) read, {len(batch.records) - first} kept): re-encode it "
               "or pass --skip-bad to keep the readable frames")


def _timestamp(frame: Any, index: int, rate: float | None) -> float:
    """Presentation time of ``frame`` in seconds (from its index when it has no pts)."""
    t = frame.time
    if t is not None:
        return float(t)
    return index / rate if rate else float(index)


def _truncation(container: Any, stream: Any, decoded: int, last_t: float | None,
                rate: float | None) -> str | None:
    """Why the video looks cut short (fewer frames or seconds than declared), or None.

    The frame count is checked when the container states it (MP4, AVI); the duration
    otherwise (Matroska, WebM), allowing for a few frames of slack (edit lists, audio that
    outlasts the video).
    """
    declared = int(stream.frames or 0)
    if declared:
        if declared - decoded > max(2, 0.01 * declared):
            return (f"only {decoded} of the {declared} frames its header declares could be "
                    "read (the file looks truncated)")
        return None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    else:
        return None
    frame_s = 1.0 / rate if rate else 0.0
    end = (last_t if last_t is not None else 0.0) + frame_s
    if decoded == 0 or duration - end > max(0.5, 3 * frame_s):
        return (f"frames could be read up to {end:.3f} s of the {duration:.3f} s its header "
                "declares (the file looks truncated)")
    return None


#: 8-bit pixel formats whose first plane is the luma (Y) plane, one byte per pixel.
_Y_PLANE_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p",
                              "yuvj444p", "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12",
                              "nv21", "nv16", "gray"})


def _luma(frame: Any) -> np.ndarray:
    """``(H, W)`` uint8 brightness of ``frame`` for hashing: a view of its Y plane when it
    has one (no colour conversion), else a conversion to gray."""
    if frame.format.name in _Y_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        return rows[:frame.height, :frame.width]
    gray: np.ndarray = frame.to_ndarray(format="gray")
    return gray


def _rgb(frame: Any) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of ``frame``, turned as the stream's display matrix says."""
    rgb = frame.to_ndarray(format="rgb24")
    try:
        rotation = int(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        rotation = 0
    k = round(rotation / 90) % 4  # counter-clockwise quarter turns, as np.rot90
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _write_frame(rgb: np.ndarray, media: Path) -> tuple[Path, bool]:
    """Write ``rgb`` as a content-addressed JPEG; return its path and whether this call
    wrote it (an atomic write: a temporary file, then a rename)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    image_path = media / digest[:2] / f"{digest}.jpg"
    if image_path.exists():
        return image_path, False
    image_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = image_path.with_name(f".{digest}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(image_path)
    return image_path, True
