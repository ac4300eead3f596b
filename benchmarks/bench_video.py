"""Video ingest throughput: the ``video`` source parser against a plain PyAV decode loop.

Encodes a ~1,000-frame 640x480 H.264 video once (30 fps; demo images, each panned slowly
for 25 frames, so consecutive frames are near-duplicates as in real footage) and caches it
in the temp folder, then in one process times:

* a plain PyAV decode loop over every frame (frame threading on, as the parser has it);
* the parser at ``--every 1 --dedup-threshold 0`` (every frame decoded, converted to RGB,
  JPEG-encoded at quality 95, hashed and written);
* the parser at its defaults (1 frame per second, dedup threshold 4).

Figures are frames decoded per second (the parser decodes every frame whatever it keeps).

    .venv/bin/python benchmarks/bench_video.py [--frames 1000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"
WIDTH, HEIGHT, RATE, HOLD, PAN = 640, 480, 30, 25, 2


def build_video(path: Path, frames: int) -> Path:
    """Encode ``frames`` 640x480 frames into ``path`` (kept when it exists already)."""
    if path.exists():
        return path
    import av
    import numpy as np
    from PIL import Image

    sources = sorted((DEMO / "train" / "images").glob("*.jpg"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        wide = None
        for i in range(frames):
            k, step = divmod(i, HOLD)
            if step == 0:
                with Image.open(sources[k % len(sources)]) as im:
                    wide = np.asarray(im.convert("RGB").resize((WIDTH + PAN * HOLD, HEIGHT)))
            assert wide is not None
            rgb = np.ascontiguousarray(wide[:, PAN * step:PAN * step + WIDTH])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path


def plain_decode(path: Path) -> int:
    """Decode every frame with PyAV; return how many."""
    import av

    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            n += 1
    return n


def run_parser(path: Path, params: dict[str, Any]) -> tuple[int, int]:
    """Run the video parser into a fresh media folder; return (kept, near-duplicates)."""
    from workbench.ingestion.sources import video
    from workbench.media.records import SourceOptions

    root = Path(tempfile.mkdtemp(prefix="bench-video-ws-"))
    try:
        batch = video.parse(path, SourceOptions(workspace_root=root, params=params))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    dupes = sum(int(i.message.split(" of ")[0]) for i in batch.issues
                if i.kind == "near-duplicate-frames")
    return len(batch.records), dupes


def best_of(repeat: int, fn: Any, *args: Any) -> tuple[float, Any]:
    """Fastest of ``repeat`` calls: (seconds, its result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cache = Path(tempfile.gettempdir()) / "workbench-bench-video"
    t0 = time.perf_counter()
    clip = build_video(cache / f"pan-{args.frames}-{WIDTH}x{HEIGHT}.mp4", args.frames)
    t_build = time.perf_counter() - t0

    t_plain, n = best_of(args.repeat, plain_decode, clip)
    t_all, (kept_all, _) = best_of(args.repeat, run_parser, clip,
                                   {"every": 1, "dedup_threshold": 0})
    t_def, (kept_def, dupes_def) = best_of(args.repeat, run_parser, clip, {})
    figures = {
        "frames": n, "size": f"{WIDTH}x{HEIGHT}", "video_fps": RATE,
        "video_mb": round(clip.stat().st_size / 1e6, 2), "build_seconds": round(t_build, 2),
        "plain_decode_fps": round(n / t_plain, 1),
        "parser_every1_fps": round(n / t_all, 1), "parser_every1_kept": kept_all,
        "parser_default_fps": round(n / t_def, 1), "parser_default_kept": kept_def,
        "parser_default_near_duplicates": dupes_def,
        "ratio_every1": round(t_plain / t_all, 3), "ratio_default": round(t_plain / t_def, 3),
    }
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    print(f"{n} frames {WIDTH}x{HEIGHT} H.264 at {RATE} fps, {figures['video_mb']} MB "
          f"({clip}); best of {args.repeat}")
    print(f"{'':38}{'frames/s':>10}{'kept':>7}{'vs plain':>10}")
    print(f"{'plain PyAV decode loop':38}{figures['plain_decode_fps']:10.1f}{'-':>7}{1:10.2f}")
    print(f"{'parser --every 1 --dedup-threshold 0':38}{figures['parser_every1_fps']:10.1f}"
          f"{kept_all:7d}{figures['ratio_every1']:10.2f}")
    print(f"{'parser defaults (--fps 1, dedup 4)':38}{figures['parser_default_fps']:10.1f}"
          f"{kept_def:7d}{figures['ratio_default']:10.2f}")
    print(f"near-duplicates dropped at defaults: {dupes_def}")


if __name__ == "__main__":
    main()
