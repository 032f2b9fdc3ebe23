"""Lip-sync study: which cheap signals set a re-voiced or audio-driven mouth apart from a real one,
out of fold, grouped?

Re-voiced (HyperLips, Wav2Lip) and audio-driven (VASA-1, animated portrait) fakes are lip-synced by
construction: their offset reads ~0 and their lips lock onto the voice, so offset evidence cannot
catch them. Candidate signals, per clip, from the caches (no new pass over the video):

Pixels (bench/lipsync_crops.py: the face warped from the source frame so the outer eye corners
lie EYE_PX apart, grey):

* ``sharp_mouth_eyes``: variance of the Laplacian in the mouth box over that in the eye band
  (median over frames). A generator that renders the lower face at low resolution and pastes it
  back leaves the mouth softer than the eyes.
* ``sharp_mouth_cheeks``: the same, mouth over the cheeks beside the nose (a pasted lower face
  is soft as a whole; the mouth against its own surroundings).
* ``hf_mouth_eyes``: fine detail (grey minus its Gaussian blur, sigma 1 px) mouth over eyes.
* ``teeth_detail``: on frames with the mouth open, the Laplacian variance inside the inner-lip
  contour over that in the eye band (generated teeth and tongue come out smooth).
* ``mouth_flicker``: frame-to-frame change of the mouth's fine detail over its own size, over the
  same for the eyes (a generator redraws the texture every frame).

Motion against the voice (bench/lipsync_cache.py tracks, the engine's audio features):

* ``peak_corr`` and ``chance_margin``: the check's correlation peak, and its height over the
  recording's chance level (the voice played backwards). Generated mouths may follow the voice
  too closely.
* ``envelope_r``: correlation at the best lag within +-200 ms between the mouth opening and the
  speech-band loudness (levels, not their changes).
* ``voice_predict``: how well the voice predicts the mouth opening (detectors.lipsync.
  voice_predictability: a ridge regression from 10 log-mel bands at -100..+100 ms to the opening,
  fitted on three of four contiguous blocks of the clip, correlation on the fourth, averaged).
  Variants measured on the way (grouped OOF AUC, all 51 clips): R^2 on halves with the 40 mel
  bands, light ridge 0.81; 10 bands, 4 blocks, correlation 0.85 (shipped); the same as R^2 0.71;
  voiced hops only 0.69; a tenth of the ridge 0.83; on the z-scored opening 0.85. A logistic
  model adding mouth_flicker, chance_margin or the cheek sharpness: 0.81-0.84, no better.
* ``smoothness``: the mouth opening's second-difference energy over its variance (low = smooth).
* ``closure``: the inner-lip gap's 5th percentile over its 95th (lips that never fully close).

For every signal: the grouped out-of-fold AUC of re-voiced + audio-driven fakes against every real
clip with audio (direction chosen on the training folds), and its false alarms: held-out real clips
above the strictest threshold that passes no training-fold real clip, with the fakes caught there.

    uv run python bench/lipsync_fake_signals.py [--media ../shared/media] [--table]
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detectors import lipsync as ls  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402
from detectors.mesh_points import INNER_LIPS, OUTER_LIPS  # noqa: E402
from lipsync_bench import audio_of, auc  # noqa: E402
from lipsync_cache import cached_track, speaking_rows  # noqa: E402
from lipsync_crops import EYE_PX, cached_crops  # noqa: E402

EYE_BAND = (33, 133, 159, 145, 362, 263, 386, 374)
CHEEKS = ((50, 205, 187, 123), (280, 425, 411, 352))
"""Face Mesh points around each cheek beside the nose."""
BOX_PAD = 0.10
"""Boxes padded by this share of the eye distance."""
OPEN_GAP = 0.12
"""A frame's mouth is open when the inner-lip gap reaches this share of the eye distance."""


def _box(pts: np.ndarray, pad: float, shape: tuple[int, int]) -> tuple[slice, slice]:
    x0, y0 = np.floor(pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + pad).astype(int)
    return slice(max(0, y0), min(shape[0], y1)), slice(max(0, x0), min(shape[1], x1))


def _lapvar(patch: np.ndarray, mask: np.ndarray | None = None) -> float:
    if patch.shape[0] < 4 or patch.shape[1] < 4:
        return float("nan")
    lap = cv2.Laplacian(patch, cv2.CV_32F, ksize=3)
    if mask is not None:
        v = lap[mask]
        return float(v.var()) if v.size >= 12 else float("nan")
    return float(lap.var())


def pixel_signals(c: dict[str, np.ndarray]) -> dict[str, float]:
    crops, mesh = c["crops"], c["mesh"]
    n = crops.shape[0]
    if n < 10:
        return {}
    pad = BOX_PAD * EYE_PX
    me, mc, hf, teeth, fl_m, fl_e = [], [], [], [], [], []
    prev = None
    for i in range(n):
        g = crops[i].astype(np.float32)
        m = mesh[i]
        sm = _box(m[list(OUTER_LIPS)], pad, g.shape)
        se = _box(m[list(EYE_BAND)], pad, g.shape)
        mouth, eyes = _lapvar(g[sm]), _lapvar(g[se])
        cheeks = np.nanmean([_lapvar(g[_box(m[list(ch)], 0, g.shape)]) for ch in CHEEKS])
        if eyes > 0:
            me.append(mouth / eyes)
        if cheeks > 0:
            mc.append(mouth / cheeks)
        fine = g - cv2.GaussianBlur(g, (0, 0), 1.0)
        e_m, e_e = float(np.mean(np.abs(fine[sm]))), float(np.mean(np.abs(fine[se])))
        if e_e > 0:
            hf.append(e_m / e_e)
        gap = float(np.linalg.norm(m[13] - m[14])) / EYE_PX
        if gap >= OPEN_GAP and eyes > 0:
            poly = np.zeros(g.shape, np.uint8)
            cv2.fillPoly(poly, [np.round(m[list(INNER_LIPS)]).astype(np.int32)], 1)
            poly = cv2.erode(poly, np.ones((3, 3), np.uint8)).astype(bool)
            t = _lapvar(g, poly)
            if math.isfinite(t):
                teeth.append(t / eyes)
        # flicker: the fine detail of fixed-size mouth/eye patches, frame to frame
        pm = cv2.resize(fine[sm], (48, 24)) if fine[sm].size else None
        pe = cv2.resize(fine[se], (64, 16)) if fine[se].size else None
        if prev is not None and pm is not None and prev[0] is not None and pe is not None and prev[1] is not None:
            fl_m.append(float(np.mean(np.abs(pm - prev[0])) / (np.mean(np.abs(pm)) + np.mean(np.abs(prev[0])) + 1e-6)))
            fl_e.append(float(np.mean(np.abs(pe - prev[1])) / (np.mean(np.abs(pe)) + np.mean(np.abs(prev[1])) + 1e-6)))
        prev = (pm, pe)
    med = lambda v: float(np.median(v)) if len(v) >= 5 else float("nan")  # noqa: E731
    return {
        "sharp_mouth_eyes": med(me), "sharp_mouth_cheeks": med(mc), "hf_mouth_eyes": med(hf),
        "teeth_detail": med(teeth), "mouth_flicker": med(fl_m) / med(fl_e) if fl_e else float("nan"),
        "face_px": float(np.median(c["eye_src"])),
    }


def motion_signals(track, audio) -> dict[str, float]:
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig = ls.build_signals(track, audio)
        est = ls.estimate_offset(sig, 1.0)
        if est is not None:
            out["peak_corr"] = est.peak_corr
            out["chance_margin"] = est.peak_corr - est.chance_peak if math.isfinite(est.chance_peak) else float("nan")
        ok = sig.face & np.isfinite(sig.mouth_raw)
        if ok.sum() < 200 or (sig.voiced & ok).sum() * sig.hop_s < 1.0:
            return out
        mouth = sig.mouth_raw
        loud = sig.audio
        best = -1.0
        for lag in range(-20, 21, 2):
            a = np.roll(loud, -lag)
            m = ok & np.isfinite(a)
            if m.sum() > 100:
                best = max(best, float(np.corrcoef(mouth[m], a[m])[0, 1]))
        out["envelope_r"] = best
        # the shipped measure: the voice's log-mel predicting the mouth opening, block-wise out of sample
        out["voice_predict"] = ls.voice_predictability(sig, audio.mel_db)
        # smoothness and closure on the analysed frames
        lm = track.landmarks
        op = ls.mouth_opening(lm)[:, 0]
        op = op[np.isfinite(op)]
        if op.size > 20:
            d2 = np.diff(op, 2)
            out["smoothness"] = float(np.mean(d2 ** 2) / (np.var(op) + 1e-12))
            p5, p95 = np.percentile(op, [5, 95])
            out["closure"] = float(p5 / p95) if p95 > 0 else float("nan")
    return out


def clip_signals(media: Path, r: dict[str, str]) -> dict[str, float]:
    src = media / r["path"]
    track = cached_track(src)
    audio = audio_of(src, f"{src.resolve()}|{src.stat().st_mtime}|0")
    out = pixel_signals(cached_crops(src))
    out.update(motion_signals(track, audio))
    out["sharp_check"] = float(np.median(track.sharpness)) if track.sharpness.size >= ls.SHARP_MIN_FRAMES else float("nan")
    return out


def is_target(r: dict[str, str]) -> bool:
    m = r.get("manipulation", "").lower()
    return r["label"] == "fake" and ("lipsync" in m or "hyperlips" in m or "talking-head" in m)


def oof(values: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[float, int, int, int, int]:
    """(grouped OOF AUC with the direction chosen on the training folds, held-out real clips above
    the training folds' strictest no-false-alarm threshold, real clips, fakes above it, fakes)."""
    scores = np.full(values.size, np.nan)
    fa = caught = 0
    ok = np.isfinite(values)
    for k in np.unique(folds):
        tr, te = ok & (folds != k), ok & (folds == k)
        if not te.any() or len(set(y[tr])) < 2:
            continue
        sign = 1.0 if auc(list(values[tr & (y == 1)]), list(values[tr & (y == 0)])) >= 0.5 else -1.0
        scores[te] = sign * values[te]
        bar = np.max(sign * values[tr & (y == 0)])
        fa += int(np.sum(sign * values[te & (y == 0)] > bar))
        caught += int(np.sum(sign * values[te & (y == 1)] > bar))
    m = np.isfinite(scores)
    # clips without the signal score at the middle (no evidence either way)
    filled = np.where(m, scores, np.nanmedian(scores) if m.any() else 0.0)
    return (auc(list(filled[y == 1]), list(filled[y == 0])), fa, int((y == 0).sum()), caught, int((y == 1).sum()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--table", action="store_true", help="print every clip's signals")
    args = ap.parse_args()
    media = Path(args.media)
    rows = [r for r in speaking_rows(media) if r["label"] == "real" or is_target(r)]
    if not rows:
        print(f"no manifests with videos with audio under {media}: nothing to measure")
        return 1
    table = []
    for r in rows:
        s = clip_signals(media, r)
        table.append((r, s))
    names = sorted({k for _, s in table for k in s})
    if args.table:
        print(f"{'clip':34s} {'label':5s} " + " ".join(f"{n[:12]:>12s}" for n in names))
        for r, s in table:
            print(f"{Path(r['path']).name[:34]:34s} {r['label']:5s} " + " ".join(f"{s.get(n, float('nan')):12.4f}" for n in names))
    y = np.array([int(is_target(r)) for r, _ in table])
    folds = np.array([fold_of(group_key(r.get("group"), r.get("source"), r["path"])) for r, _ in table])
    kind = np.array(["vasa" if "talking-head" in r.get("manipulation", "").lower() else "revoiced" if y_ else "real"
                     for (r, _), y_ in zip(table, y)])
    print(f"\nGrouped out-of-fold, re-voiced + audio-driven fakes ({y.sum()}) vs every real clip with audio ({(y == 0).sum()})")
    print(f"{'signal':20s} {'AUC':>6s} {'AUC rev':>7s} {'AUC gen':>7s} {'false alarms':>12s} {'caught':>8s}  (no-false-alarm bar from the training folds)")
    for n in names:
        v = np.array([s.get(n, float("nan")) for _, s in table], float)
        a, fa, nr, c, nf = oof(v, y, folds)
        sub = {}
        for kname in ("revoiced", "vasa"):
            keep = (kind == "real") | (kind == kname)
            sub[kname] = oof(v[keep], y[keep], folds[keep])[0]
        print(f"{n:20s} {a:6.3f} {sub['revoiced']:7.3f} {sub['vasa']:7.3f} {fa:5d} of {nr:3d} {c:3d} of {nf:2d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
