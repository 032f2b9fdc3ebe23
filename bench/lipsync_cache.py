"""Per-clip face tracks for the lip-sync studies, computed once and kept under ``out/``.

Following the face is the costly part of a lip-sync measurement (Face Mesh on every analysed
frame); the audio is cheap to decode again. This module runs the pipeline's own pass (VideoStream
+ FaceTracker, and the lipsync check's ``observe`` for the mouth/eye sharpness) once per clip and
keeps the face track's arrays in ``out/lipsync_cache/<name>_<hash>.npz``. The training script
(training/train_lipsync_net.py) and bench/lipsync_bench.py read them through :func:`cached_track`.

    uv run python bench/lipsync_cache.py [--media ../shared/media] [--fps 15]   # fill the cache
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "out" / "lipsync_cache"
MANIFESTS = ("manifest.csv", "manifest_more.csv")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
CACHE_VERSION = 2
"""2: the lipsync check's per-frame mouth darkness (``mouth_dark_t``, ``mouth_dark``) is kept too."""


def speaking_rows(media: Path) -> list[dict[str, str]]:
    """Manifest rows (both manifests) of the videos with an audio track, with 'manifest' added."""
    rows = []
    for name in MANIFESTS:
        f = media / name
        if not f.exists():
            continue
        with f.open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if r.get("audio", "").strip().lower() == "yes" and Path(r["path"]).suffix.lower() in VIDEO_SUFFIXES:
                    rows.append({**r, "manifest": name})
    return rows


def _key(path: Path, fps: float) -> Path:
    st = path.stat()
    h = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}|{fps}|{CACHE_VERSION}".encode()).hexdigest()[:12]
    return CACHE_DIR / f"{path.stem}_{h}.npz"


def cached_track(path: str | Path, fps: float = 15.0) -> SimpleNamespace:
    """The face track of ``path`` at ``fps`` (from the cache, or computed and cached), as a
    namespace with the FaceTrack fields the lip-sync code reads, plus ``sharpness`` (the lipsync
    check's per-frame mouth/eye sharpness ratios) and ``mouth_dark_t`` / ``mouth_dark`` (its per-frame mouth darkness)."""
    p = Path(path)
    f = _key(p, fps)
    if not f.exists():
        _compute(p, fps, f)
    z = np.load(f)
    return SimpleNamespace(
        path=str(p), times=z["times"], frame_indices=z["frame_indices"], n_faces=z["n_faces"], boxes=z["boxes"],
        landmarks=z["landmarks"], analysis_fps=float(z["analysis_fps"]), source_fps=float(z["source_fps"]),
        sharpness=z["sharpness"], mouth_dark_t=z["mouth_dark_t"], mouth_dark=z["mouth_dark"], frames_with_face=int(np.isfinite(z["boxes"][:, 0]).sum()) if z["boxes"].size else 0,
    )


def _compute(p: Path, fps: float, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from detectors.faces import FaceTracker
    from detectors.lipsync import LipSyncDetector
    from detectors.media import VideoFrame, VideoStream

    det = LipSyncDetector()
    with VideoStream(p, analysis_fps=fps, with_audio=False) as stream:
        tracker = FaceTracker(str(stream.path), stream.info.fps, fps, stream.info.duration_s)
        n = 0
        for item in stream:
            if isinstance(item, VideoFrame):
                obs = tracker.add(item)
                if n % det.observe_every == 0:
                    det.observe(item, obs)
                n += 1
        track = tracker.finish()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, times=track.times, frame_indices=track.frame_indices, n_faces=track.n_faces, boxes=track.boxes,
             landmarks=track.landmarks, analysis_fps=track.analysis_fps, source_fps=track.source_fps,
             sharpness=np.asarray(det._sharpness, np.float32), mouth_dark_t=np.asarray(det._dark_t, np.float64),
             mouth_dark=np.asarray(det._dark, np.float32))
    tmp.rename(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--fps", type=float, default=15.0)
    args = ap.parse_args()
    media = Path(args.media)
    rows = speaking_rows(media)
    for r in rows:
        t0 = time.time()
        tr = cached_track(media / r["path"], args.fps)
        print(f"{r['path']:55s} {r['label']:5s} frames {tr.times.size:5d} face {tr.frames_with_face:5d} ({time.time() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
