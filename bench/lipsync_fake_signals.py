"""Lip-sync study: which measurable signals separate a lip-synced mouth (Wav2Lip) from a real one?

For every shared clip with audio, one pass at the pipeline's analysis rate records per analysed
frame, at source resolution, the face normalised so the outer eye corners are ``EYE_PX`` apart:

* mouth_sharp: the variance of the Laplacian in the mouth box (outer-lip contour, padded) over
  the same in the eye band (both eyes). A generated mouth (Wav2Lip renders the lower face at
  96 px and pastes it back) is softer than the eyes the generator never touched; a real face in
  focus has both alike. A ratio, so the camera's focus and compression cancel.
* mouth_flicker: frame-to-frame change of the mouth crop's high-pass texture (after the crops
  are warped to a common frame by the eye corners and the nose) over the same for the eye band.

And from the landmark track: the closed share (inner-lip gap < 0.025 eye distances) and gap p5
(lip-closure completeness), the lip-shape variety (std of the inner opening's aspect), the
cross-correlation peak r and offset (the check).

    uv run python bench/lipsync_fake_signals.py [--fps 15] [--media ../shared/media]

Few clips (3-4 real with a readable face, 2 fake): every number printed is a measurement on those
files, not a validated threshold.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import lipsync as ls  # noqa: E402
from lipsync_bench import speaking_videos  # noqa: E402
from detectors.mesh_points import INNER_LIPS, OUTER_LIPS, point  # noqa: E402

EYE_PX = 96.0
"""Normalised face scale: outer eye corners this many px apart (Wav2Lip's face crop is 96 px high)."""

EYE_BAND = (33, 133, 362, 263, 159, 145, 386, 374)
"""Eye corners and lids: the eye band box."""

STILL_GAP_STEP = 0.01
"""A frame's mouth is still when its inner gap changes by less than this (eye distances) to both neighbours."""

BOX_PAD = 0.15
"""Boxes are padded by this share of the eye distance."""


def _box(pts: np.ndarray, pad: float) -> tuple[int, int, int, int]:
    x0, y0 = pts.min(axis=0) - pad
    x1, y1 = pts.max(axis=0) + pad
    return int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))


def _lap_var(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_32F, ksize=3).var()) if gray.size >= 9 else float("nan")


def frame_measures(frame, face) -> dict[str, object] | None:
    lm = face.landmarks
    eye = float(np.linalg.norm(lm[33, :2] - lm[263, :2]))
    if eye < 8:
        return None
    crop, sbox = frame.crop_full(face.box, margin=0.25)
    scale = frame.scale if frame._source is not None else 1.0
    pts = lm[:, :2] / scale - np.array(sbox[:2], np.float32)
    eye_src = eye / scale
    k = EYE_PX / eye_src
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gray = cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    pts = pts * k
    pad = BOX_PAD * EYE_PX
    out = {}
    for name, idx in (("mouth", list(OUTER_LIPS)), ("eyes", list(EYE_BAND))):
        x0, y0, x1, y1 = _box(pts[idx], pad)
        x0, y0 = max(0, x0), max(0, y0)
        patch = gray[y0:y1, x0:x1]
        out[name] = _lap_var(patch)
        # a fixed-size patch for the temporal measure
        out[name + "_patch"] = cv2.resize(patch, (64, 32)) if patch.size >= 64 else None
    return out


def analyse(path: Path, fps: float) -> dict[str, float]:
    from detectors.audio import AudioFeatureExtractor
    from detectors.faces import FaceTracker
    from detectors.media import AudioChunk, VideoFrame, VideoStream

    rows = []
    with VideoStream(path, analysis_fps=fps) as stream:
        tracker = FaceTracker(str(stream.path), stream.info.fps, fps, stream.info.duration_s)
        extractor = AudioFeatureExtractor()
        for item in stream:
            if isinstance(item, VideoFrame):
                obs = tracker.add(item)
                if obs is not None:
                    m = frame_measures(item, obs)
                    if m is not None:
                        m["t"] = item.t
                        rows.append(m)
            elif isinstance(item, AudioChunk):
                extractor.push(item.samples, item.t)
    track, audio = tracker.finish(), extractor.finish()
    sharp = np.array([r["mouth"] / r["eyes"] for r in rows if r["eyes"] > 0])

    def flicker(key: str) -> np.ndarray:
        p = [r[key + "_patch"] for r in rows]
        d = []
        for a, b in zip(p[:-1], p[1:]):
            if a is None or b is None:
                continue
            ha, hb = a - cv2.GaussianBlur(a, (0, 0), 2.0), b - cv2.GaussianBlur(b, (0, 0), 2.0)
            d.append(float(np.mean(np.abs(ha - hb)) / (0.5 * (np.mean(np.abs(ha)) + np.mean(np.abs(hb))) + 1e-6)))
        return np.array(d)

    fm, fe = flicker("mouth"), flicker("eyes")
    lm = track.landmarks.astype(np.float64)
    eye = np.linalg.norm(point(lm, 33) - point(lm, 263), axis=1)
    gap = np.mean([np.linalg.norm(point(lm, a)[:, :2] - point(lm, b)[:, :2], axis=1)
                   for a, b in ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))], axis=0) / eye
    width = np.linalg.norm(point(lm, 78)[:, :2] - point(lm, 308)[:, :2], axis=1) / eye
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig = ls.build_signals(track, audio)
        est = ls.estimate_offset(sig, 1.0)
        voiced = np.interp(track.times, sig.times, sig.voiced.astype(float)) > 0.5
    ok = np.isfinite(gap)
    sp = ok & voiced
    # the sharpness ratio on frames whose mouth is still (no motion blur of its own): the inner gap
    # changes by less than STILL_GAP_STEP eye distances to both neighbours
    rt = np.array([r["t"] for r in rows])
    ratio = np.array([r["mouth"] / r["eyes"] if r["eyes"] > 0 else np.nan for r in rows])
    g_at = np.interp(rt, track.times[ok], gap[ok]) if ok.sum() > 1 else np.full(rt.size, np.nan)
    step = np.abs(np.diff(g_at))
    still = np.zeros(rt.size, bool)
    still[1:-1] = (step[:-1] < STILL_GAP_STEP) & (step[1:] < STILL_GAP_STEP)
    return {
        "sharp_still": float(np.nanmedian(ratio[still])) if still.any() else float("nan"),
        "n_still": float(still.sum()),
        "mouth_sharp": float(np.median(sharp)) if sharp.size else float("nan"),
        "mouth_flicker": float(np.median(fm) / np.median(fe)) if fm.size and fe.size else float("nan"),
        "closed_sp": float(np.mean(gap[sp] < 0.025)) if sp.any() else float("nan"),
        "gap_p5": float(np.nanpercentile(gap, 5)) if ok.any() else float("nan"),
        "width_cv": float(np.nanstd(width[sp]) / np.nanmean(width[sp])) if sp.any() else float("nan"),
        "peak_r": est.peak_corr if est else float("nan"),
        "offset_ms": est.offset_s * 1000 if est else float("nan"),
        "face_px": float(np.nanmedian(track.boxes[:, 2] - track.boxes[:, 0]) / track.scale),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--fps", type=float, default=15.0)
    args = ap.parse_args()
    media = Path(args.media)
    rows = speaking_videos(media)
    if rows is None:
        return 1
    names = None
    for r in rows:
        res = analyse(media / r["path"], args.fps)
        if names is None:
            names = list(res)
            print(f"{'file':34s} {'label':5s} " + " ".join(f"{n:>13s}" for n in names))
        print(f"{Path(r['path']).name:34s} {r['label']:5s} " + " ".join(f"{res[n]:13.3f}" for n in names), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
