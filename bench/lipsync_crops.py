"""Aligned grey face crops of every clip with audio, kept once under ``out/`` for the generated-mouth studies.

The cues that may set a generated mouth apart from a real one (its texture and sharpness against
the rest of the face, the detail inside the mouth, how its texture changes from frame to frame)
are read from pixels, and decoding plus Face Mesh is the costly part. This module runs the
pipeline's own pass (VideoStream + FaceTracker at the analysis rate) once per clip and keeps, for
every analysed frame with a face, the face warped from the *source-resolution* frame so that the
outer eye corners lie at fixed points ``EYE_PX`` apart (rotation undone), as a grey uint8 crop,
with the full Face Mesh in the crop's coordinates. bench/lipsync_fake_signals.py computes its
candidate signals from these files.

    uv run python bench/lipsync_crops.py [--media ../shared/media] [--fps 15]   # fill the cache

Written to ``out/lipsync_crops/<stem>_<hash>.npz``: times (N,), crops (N, H, W) uint8, mesh
(N, 468, 2) float32 crop px, eye_src (N,) the eye distance in source px (the face's true size).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lipsync_cache import speaking_rows  # noqa: E402

CROP_DIR = ROOT / "out" / "lipsync_crops"
CROP_VERSION = 1
EYE_PX = 64.0
"""Outer eye corners this many px apart in the crop (Wav2Lip renders a ~96 px face: eye distance ~40 px)."""
X_RANGE = (-1.0, 1.0)
"""Crop columns, in eye distances from the eyes' midpoint."""
Y_RANGE = (-0.6, 1.65)
"""Crop rows, in eye distances from the eye line (down positive): brows to chin."""
CROP_W = int(round((X_RANGE[1] - X_RANGE[0]) * EYE_PX))
CROP_H = int(round((Y_RANGE[1] - Y_RANGE[0]) * EYE_PX))


def _key(path: Path, fps: float) -> Path:
    st = path.stat()
    h = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}|{fps}|{CROP_VERSION}".encode()).hexdigest()[:12]
    return CROP_DIR / f"{path.stem}_{h}.npz"


def aligned_crop(frame, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(grey crop (CROP_H, CROP_W) uint8, mesh in crop px (468, 2), eye distance in source px) of
    one frame's face, warped from the source-resolution frame; None when the face is degenerate."""
    import cv2

    lm = np.asarray(landmarks, np.float64)[:, :2]
    scale = float(frame.scale) if getattr(frame, "_source", None) is not None else 1.0
    left, right = lm[33], lm[263]
    eye = float(np.linalg.norm(right - left))
    if not np.isfinite(eye) or eye < 4:
        return None
    ux = (right - left) / eye  # along the eye line
    uy = np.array([-ux[1], ux[0]])  # down the face
    mid = 0.5 * (left + right)
    corners = np.array([mid + ux * x * eye + uy * y * eye for x in X_RANGE for y in Y_RANGE])
    box = (*corners.min(axis=0), *corners.max(axis=0))
    crop, (sx0, sy0, _, _) = frame.crop_full(tuple(float(v) for v in box), margin=0.02)
    if crop.size == 0:
        return None
    # analysis px -> source px of the crop, then -> output px
    src_pts = lambda p: p / scale - np.array([sx0, sy0], np.float64)  # noqa: E731
    k = EYE_PX / eye  # output px per analysis px
    origin = mid + ux * X_RANGE[0] * eye + uy * Y_RANGE[0] * eye
    a = np.stack([src_pts(origin), src_pts(origin + ux * (CROP_W / k)), src_pts(origin + uy * (CROP_H / k))]).astype(np.float32)
    b = np.array([[0, 0], [CROP_W, 0], [0, CROP_H]], np.float32)
    m = cv2.getAffineTransform(a, b)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    src_eye = eye / scale
    interp = cv2.INTER_AREA if src_eye > EYE_PX else cv2.INTER_CUBIC
    out = cv2.warpAffine(gray, m, (CROP_W, CROP_H), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    mesh = (np.c_[np.apply_along_axis(src_pts, 1, lm), np.ones(len(lm))] @ m.T).astype(np.float32)
    return out, mesh, src_eye


def cached_crops(path: str | Path, fps: float = 15.0) -> dict[str, np.ndarray]:
    p = Path(path)
    f = _key(p, fps)
    if not f.exists():
        _compute(p, fps, f)
    z = np.load(f)
    return {k: z[k] for k in z.files}


def _compute(p: Path, fps: float, out: Path) -> None:
    from detectors.faces import FaceTracker
    from detectors.media import VideoFrame, VideoStream

    times, crops, meshes, eyes = [], [], [], []
    with VideoStream(p, analysis_fps=fps, with_audio=False) as stream:
        tracker = FaceTracker(str(stream.path), stream.info.fps, fps, stream.info.duration_s)
        for item in stream:
            if isinstance(item, VideoFrame):
                obs = tracker.add(item)
                if obs is None:
                    continue
                r = aligned_crop(item, obs.landmarks)
                if r is None:
                    continue
                times.append(item.t)
                crops.append(r[0])
                meshes.append(r[1])
                eyes.append(r[2])
        tracker.finish()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, times=np.asarray(times, np.float64), crops=np.asarray(crops, np.uint8).reshape(-1, CROP_H, CROP_W),
                        mesh=np.asarray(meshes, np.float32).reshape(-1, 468, 2), eye_src=np.asarray(eyes, np.float32))
    tmp.rename(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--fps", type=float, default=15.0)
    args = ap.parse_args()
    media = Path(args.media)
    for r in speaking_rows(media):
        t0 = time.time()
        c = cached_crops(media / r["path"], args.fps)
        print(f"{r['path']:55s} {r['label']:5s} crops {c['times'].size:5d} eye {np.median(c['eye_src']) if c['eye_src'].size else 0:6.1f} px "
              f"({time.time() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
