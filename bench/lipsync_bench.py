"""Lip-sync benchmark: offsets on ../shared/media and on copies with the audio shifted.

For every video with audio in the manifest, the lipsync check runs on the file as it is. For each
real talking clip it also runs on copies made here, in a temp folder, with PyAV: the video
packets re-muxed unchanged and the audio decoded, shifted by -400, -200, 0 (a control: the
re-mux alone must not move anything), +200 and +400 ms, and re-encoded (PCM in Matroska).
Positive shift = audio late. The copies are labelled by construction.

A second table shows what ~2.5 s and ~5 s of a clip can say: the same estimate on the first
seconds only, with the error and the confidence it reports. A third (``--pairs``) shows, for each
original clip, the offset that other feature pairs find (opening speed vs loudness onsets, the
check's pair; opening vs loudness; positive onsets only): a constant bias of the method would
show in every pair and every clip alike.

"m/eye" is the mouth's sharpness over the eyes' (the generated-mouth part: a lip-sync model's
low-resolution mouth in a sharp frame reads low).

Rows the check cannot judge (lips too small or unsteady to read, no clear lock) are marked "n/j"
and left out of the +-80 ms count: their offset is a guess the check itself does not stand by.

    uv run python bench/lipsync_bench.py [--media ../shared/media] [--fps 15] [--pairs]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from detectors.base import RecordingContext  # noqa: E402
from detectors.lipsync import LipSyncDetector  # noqa: E402
from detectors.mesh_points import pick, point  # noqa: E402
from fixtures.talking_head import stream_clip  # noqa: E402

SHIFTS_MS = (-400, -200, 0, 200, 400)
TOLERANCE_MS = 80.0
PREFIXES_S = (2.5, 5.0)


def shifted_copy(src: Path, dst: Path, shift_s: float) -> None:
    """Copy ``src`` to ``dst`` (mkv) with video packets unchanged and the audio ``shift_s`` late."""
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0]
        rate = int(ain.codec_context.sample_rate)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        t0 = None
        for frame in inp.decode(ain):
            for f in resampler.resample(frame):
                if t0 is None:
                    t0 = float(f.pts * f.time_base) if f.pts is not None else 0.0
                chunks.append(f.to_ndarray().reshape(-1))
        for f in resampler.resample(None):
            chunks.append(f.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks).astype(np.int16)
    start = (t0 or 0.0) + shift_s
    if start < 0:  # audio early: drop what would come before the start
        samples = samples[int(round(-start * rate)):]
        start = 0.0
    first = int(round(start * rate))

    with av.open(str(src)) as inp, av.open(str(dst), mode="w", format="matroska") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("pcm_s16le", rate=rate)
        aout.layout = "mono"
        aout.format = "s16"
        for pkt in inp.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)
        block = 1024
        for i in range(0, samples.size, block):
            af = av.AudioFrame.from_ndarray(samples[None, i:i + block], format="s16", layout="mono")
            af.sample_rate = rate
            af.pts = first + i
            af.time_base = Fraction(1, rate)
            for p in aout.encode(af):
                out.mux(p)
        for p in aout.encode(None):
            out.mux(p)


def analyze(path: Path, fps: float):
    det = LipSyncDetector()  # sees the frames as in the pipeline (the mouth/eye sharpness)
    track, audio = stream_clip(path, analysis_fps=fps, observers=(det,))
    finding = det.analyze(RecordingContext(str(path), track, audio, {"pipeline.analysis_fps": fps}))
    return finding, track, audio


def prefix(track, audio, seconds: float):
    """The first ``seconds`` of a track and its audio (as if the recording stopped there)."""
    t0 = track.times[0] if track.times.size else 0.0
    keep = track.times < t0 + seconds
    tr = replace(track, times=track.times[keep], frame_indices=track.frame_indices[keep], n_faces=track.n_faces[keep],
                 boxes=track.boxes[keep], landmarks=track.landmarks[keep])
    k = audio.times < t0 + seconds
    au = replace(audio, energy_db=audio.energy_db[k], flux=audio.flux[k], voiced=audio.voiced[k],
                 bands_db=audio.bands_db[k], duration_s=min(audio.duration_s, seconds))
    return tr, au


def pair_offsets(track, audio) -> dict[str, tuple[float, float]]:
    """Offset (ms) and peak correlation found by each feature pair, windows combined as the check does."""
    import warnings

    from detectors import lipsync as ls

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig = ls.build_signals(track, audio)
    hop = sig.hop_s
    max_lag = int(round(1.0 / hop))
    width = int(round(ls.WINDOW_S / hop))
    step = int(round(ls.WINDOW_STEP_S / hop))
    dv, da = ls._derivative(sig.mouth, hop), ls._derivative(sig.audio, hop)
    pairs = {"speed/onset": (dv, da), "open/loud": (sig.mouth, sig.audio),
             "rise/rise": (np.maximum(dv, 0.0), np.maximum(da, 0.0))}
    speech = (sig.voiced & sig.face).astype(float)
    csum = np.concatenate([[0.0], np.cumsum(speech)])
    out = {}
    for name, (v, a) in pairs.items():
        starts, curves = ls.window_correlations(v, a, max_lag, width, step)
        w = np.clip((csum[np.minimum(starts + width, speech.size)] - csum[starts]) * hop - ls.MIN_WINDOW_SPEECH_S, 0, None)
        w = np.where(np.isfinite(curves).any(axis=1), w, 0.0)
        if w.sum() <= 0:
            out[name] = (float("nan"), float("nan"))
            continue
        have = np.isfinite(curves) * w[:, None]
        curve = (np.where(np.isfinite(curves), curves, 0.0) * w[:, None]).sum(axis=0) / np.maximum(have.sum(axis=0), 1e-12)
        i = int(np.argmax(curve))
        out[name] = ((-max_lag + ls._parabolic_peak(curve, i)) * hop * 1000.0, float(curve[i]))
    return out


RIGID_POINTS = (33, 263, 133, 362, 168, 6, 1)
"""Eye corners and nose bridge: their centroid moves with the head, not with the mouth."""

CLOSED_LIPS = 0.02
"""Inner-lip gap (eye distances) under which the lips count as closed."""


def candidate_signals(track, audio, offset_ms: float) -> dict[str, float]:
    """Signals explored for lip-synced and animated fakes (not used by the check; see the report).

    head_sil/sp: head speed in the voice's pauses over head speed while speaking (visual prosody:
    a real speaker's head moves with the voice; a Wav2Lip head comes from another utterance).
    head~voice: correlation of head speed with the voice's loudness. closed: share of speaking
    frames with the lips closed (Wav2Lip rarely closes them). rough: RMS second difference over RMS
    first difference of the mouth opening (generated mouths move smoothly; fps-dependent).
    """
    import warnings

    from detectors import lipsync as ls

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig = ls.build_signals(track, audio)
        lm = track.landmarks.astype(float)
        t = track.times
        eye = np.linalg.norm(point(lm, 33) - point(lm, 263), axis=1)
        rig = pick(lm, RIGID_POINTS)[:, :, :2].mean(axis=1)
        speed = np.full(t.size, np.nan)
        speed[1:] = np.linalg.norm(np.diff(rig, axis=0), axis=1) / eye[1:] / np.diff(t)
        shift = offset_ms / 1000.0
        voiced = np.interp(t + shift, sig.times, sig.voiced.astype(float)) > 0.5
        loud = np.interp(t + shift, sig.times, np.nan_to_num(sig.audio))
        ok = np.isfinite(speed)
        inner = np.linalg.norm(point(lm, 13)[:, :2] - point(lm, 14)[:, :2], axis=1) / eye
        opening = ls.mouth_opening(track.landmarks).mean(axis=1)
        d1, d2 = np.diff(opening), np.diff(opening, 2)
        return {
            "head_sil/sp": float(np.nanmedian(speed[~voiced]) / np.nanmedian(speed[voiced])),
            "head~voice": float(np.corrcoef(speed[ok], loud[ok])[0, 1]),
            "closed": float(np.nanmean(inner[voiced & np.isfinite(inner)] < CLOSED_LIPS)),
            "rough": float(np.sqrt(np.nanmean(d2 ** 2)) / np.sqrt(np.nanmean(d1 ** 2))),
        }


def fmt(v: float | None, spec: str = "+.0f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def speaking_videos(media: Path) -> list[dict[str, str]] | None:
    """The manifest rows of the videos with audio (None, said, when there is no manifest);
    the lip-sync study scripts beside this one read them the same way."""
    manifest = media / "manifest.csv"
    if not manifest.exists():
        print(f"no manifest at {manifest}: nothing to measure")
        return None
    with manifest.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["kind"] == "video" and r["audio"] == "yes"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--fps", type=float, default=15.0, help="analysis frame rate (pipeline.analysis_fps)")
    ap.add_argument("--pairs", action="store_true", help="also print the offset each feature pair finds on the originals")
    ap.add_argument("--explore", action="store_true", help="also print the candidate fake signals on the originals")
    args = ap.parse_args()
    media = Path(args.media)
    rows = speaking_videos(media)
    if rows is None:
        return 1
    results = []
    prefix_rows = []
    pair_rows = []
    explore_rows = []
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="lipsync_bench_") as tmp:
        for r in rows:
            src = media / r["path"]
            f, track, audio = analyze(src, args.fps)
            results.append((src.name, r["label"], None, f))
            if args.pairs:
                pair_rows.append((src.name, r["label"], pair_offsets(track, audio)))
            if args.explore:
                explore_rows.append((src.name, r["label"], f, candidate_signals(track, audio, f.evidence.get("offset_ms") or 0.0)))
            if r["label"] != "real":
                continue
            for shift in SHIFTS_MS:
                dst = Path(tmp) / f"{src.stem}_shift{shift:+d}.mkv"
                shifted_copy(src, dst, shift / 1000.0)
                fs, tr_s, au_s = analyze(dst, args.fps)
                results.append((dst.name, "real+shift", shift, fs))
                for secs in PREFIXES_S:
                    tr_p, au_p = prefix(tr_s, au_s, secs)
                    fp = LipSyncDetector().analyze(RecordingContext(str(dst), tr_p, au_p, {}))
                    prefix_rows.append((dst.name, secs, shift, fp))

    print(f"\nLip-sync benchmark (analysis at {args.fps:g} fps; positive offset = audio late; tolerance +-{TOLERANCE_MS:.0f} ms;"
          " n/j = the check says it cannot judge)")
    head = (f"{'file':36s} {'label':10s} {'true ms':>7s} {'est ms':>7s} {'error':>6s} {'conf':>5s} {'risk':>5s} {'speech s':>8s} "
            f"{'peak r':>6s} {'sharp':>5s} {'consist':>7s} {'jitter':>6s} {'read':>4s} {'m/eye':>5s} {'rel err':>7s}  ok")
    # the shift recovered against the clip's own +0 copy, whatever offset the original carries
    at_zero = {name.rsplit("_shift", 1)[0]: f.evidence.get("offset_ms") for name, _, s, f in results if s == 0}
    groups = (("real clips", lambda lab, s: lab == "real" and s is None), ("shifted copies", lambda lab, s: s is not None),
              ("fakes", lambda lab, s: lab == "fake"))
    n_ok = n_checked = n_nj = 0
    rel_errors: list[float] = []  # judged shifted copies: recovered shift against the clip's own reading
    for title, keep in groups:
        print(f"\n{title}")
        print(head)
        print("-" * len(head))
        for name, label, shift, f in results:
            if not keep(label, shift):
                continue
            e = f.evidence
            est = e.get("offset_ms")
            true = shift if shift is not None else (0 if label == "real" else None)
            err = (est - true) if (est is not None and true is not None) else None
            nj = bool(e.get("cannot_judge"))
            base = at_zero.get(name.rsplit("_shift", 1)[0]) if shift is not None else None
            rel = (est - base - shift) if (est is not None and base is not None) else None
            ok = "" if err is None else ("n/j" if nj else ("yes" if abs(err) <= TOLERANCE_MS else "NO"))
            if err is not None:
                if nj:
                    n_nj += 1
                else:
                    n_checked += 1
                    n_ok += ok == "yes"
                    if rel is not None:
                        rel_errors.append(rel)
            print(f"{name:36s} {label:10s} {fmt(true if true is not None else None):>7s} {fmt(est):>7s} {fmt(err):>6s} "
                  f"{f.confidence:5.2f} {f.risk:5.2f} {fmt(e.get('speech_seconds'), '.1f'):>8s} {fmt(e.get('peak_correlation'), '.2f'):>6s} "
                  f"{fmt(e.get('peak_sharpness'), '.2f'):>5s} {fmt(e.get('window_consistency'), '.2f'):>7s} "
                  f"{fmt(e.get('landmark_noise'), '.4f'):>6s} {fmt(e.get('lip_readability'), '.2f'):>4s} "
                  f"{fmt(e.get('mouth_sharpness_ratio'), '.2f'):>5s} {fmt(rel):>7s}  {ok}")
    print(f"\nwithin +-{TOLERANCE_MS:.0f} ms: {n_ok} of {n_checked} judged (real clips and their shifted copies); "
          f"{n_nj} not judged (lips unreadable, no lock)")
    if rel_errors:
        n_rel = sum(abs(r) <= TOLERANCE_MS for r in rel_errors)
        print(f"shift recovered against the clip's own unshifted reading (rel err): {n_rel} of {len(rel_errors)} judged copies "
              f"within +-{TOLERANCE_MS:.0f} ms, largest |rel err| {max(abs(r) for r in rel_errors):.0f} ms")
    risk = {name: f.risk for name, _, s, f in results if s is None}
    rp, fk = risk.get("real_presenter.mp4"), risk.get("fake_lipsync_presenter.mp4")
    if rp is not None and fk is not None:
        print(f"lipsync risk: fake_lipsync_presenter {fk:.2f} vs real_presenter {rp:.2f} -> {'higher' if fk > rp else 'NOT higher'}")
    for name, _, s, f in results:
        if s is None:
            print(f"  {name}: {f.summary}  parts={f.evidence.get('risk_parts')}  silence/speech motion={f.evidence.get('silence_over_speech_motion')}")

    print("\nHow much speech is enough: the same shifted copies, first seconds only (errors over the judged rows)")
    print(f"{'prefix s':>8s} {'n':>3s} {'judged':>6s} {'median speech s':>15s} {'median |err| ms':>15s} {'within 80 ms':>12s} {'median conf':>11s}")
    for secs in PREFIXES_S + (None,):
        if secs is None:
            rows_f = [(s, f) for _, lab, s, f in results if lab == "real+shift"]
            label = "full"
        else:
            rows_f = [(s, f) for _, sx, s, f in prefix_rows if sx == secs]
            label = f"{secs:g}"
        if not rows_f:
            continue
        judged = [(f.evidence.get("speech_seconds") or 0.0, abs(f.evidence["offset_ms"] - s), f.confidence)
                  for s, f in rows_f if f.evidence.get("offset_ms") is not None and not f.evidence.get("cannot_judge")]
        conf = np.median([f.confidence for _, f in rows_f])
        if not judged:
            print(f"{label:>8s} {len(rows_f):3d} {0:6d} {'-':>15s} {'-':>15s} {'-':>12s} {conf:11.2f}")
            continue
        arr = np.array(judged, dtype=float)
        print(f"{label:>8s} {len(rows_f):3d} {len(judged):6d} {np.median(arr[:, 0]):15.1f} {np.median(arr[:, 1]):15.0f} "
              f"{np.mean(arr[:, 1] <= TOLERANCE_MS):12.0%} {conf:11.2f}")
    if pair_rows:
        names = list(pair_rows[0][2])
        print("\nOffset (ms) and peak r by feature pair, original clips (speed/onset is the check's pair)")
        print(f"{'file':36s} {'label':6s} " + " ".join(f"{n:>16s}" for n in names))
        for name, label, po in pair_rows:
            print(f"{name:36s} {label:6s} " + " ".join(f"{fmt(po[n][0]):>8s} ({fmt(po[n][1], '.2f')})" for n in names))
    if explore_rows:
        print("\nCandidate signals for lip-synced / animated fakes, original clips (not used by the check)")
        names = list(explore_rows[0][3])
        print(f"{'file':36s} {'label':6s} {'sil/sp mouth':>12s} " + " ".join(f"{n:>11s}" for n in names))
        for name, label, f, cs in explore_rows:
            print(f"{name:36s} {label:6s} {fmt(f.evidence.get('silence_over_speech_motion'), '.2f'):>12s} "
                  + " ".join(f"{fmt(cs[n], '.3f'):>11s}" for n in names))
    print(f"\n({time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
