"""Lip-sync benchmark, out-of-fold: offsets on the real dev clips and on copies with the audio shifted,
short prefixes, and the lipsync risk of re-voiced / audio-driven fakes against every real clip.

For every video with audio in manifest.csv and manifest_more.csv, the face track comes from
bench/lipsync_cache.py's cache (the pipeline's own pass, once) and the audio from the engine's
timestamp-placed decode of the file. For every real clip with speech (at least MIN_SPEECH_S of
speech with a face, by the voice-activity model) the same is done on copies written here with the
video packets unchanged and the audio shifted by SHIFTS_MS (PCM in Matroska; positive = audio
late). Each clip is scored by the fold model that never saw its group (out/folds/, from
training/train_lipsync_net.py --folds; ``--shipped`` uses assets/models instead).

Truth for a real clip is its own unshifted reading: a copy shifted by s must read (own + s).
"vs 0" also gives the error against 0 + s, as if every real clip were in sync (the manifest does
not say which are). Rows the check cannot judge are counted apart ("n/j").

    uv run python bench/lipsync_bench.py [--media ../shared/media] [--method learned|xcorr] [--shipped]

Measured (method xcorr, 2-core machine, caches rebuilt: face tracks 85 s (115 s with the mouth
darkness), face crops ~3-8 min, the bench itself ~15-100 s):

=========================================  ========================  ========================  ========================  ========================
                                           before (4c485fe)          chance level, late        + mouth darkness, the     + generated mouth (CLIP
                                                                     voice, driven mouth       better-locking curve      probe on 8 face crops,
                                                                                               per window                fold copies)
=========================================  ========================  ========================  ========================  ========================
shifted copies judged                      40/54 (74 %)              37/54 (69 %)              43/54 (80 %)              43/54 (80 %)
 ...within 80 ms of own + shift            34/34 verifiable (100 %)  37/37 (100 %)             42/42 (100 %)             42/42 (100 %)
 ...strict (unverified judged = miss)      34/40 (85 %)              37/37 (100 %)             42/43 (98 %)              42/43 (98 %)
 median abs error                          1 ms                      1 ms                      1 ms                      1 ms
5 s prefixes judged / within / conf        48/72, 100 %, 0.17        34/72, 100 %, 0.13        55/72, 100 %, 0.23        55/72, 100 %, 0.23
10 s prefixes judged / within / conf       52/72, 100 %, 0.28        50/72, 100 %, 0.24        58/72, 100 %, 0.34        58/72, 100 %, 0.34
AUC re-voiced+audio-driven vs real (27/24) 0.448                     0.812 (bars: other folds) 0.809; 0.853 (+ tight)    0.941
 ...re-voiced only (8/24)                  -                         0.763                     0.755; 0.880 (+ tight)    0.875
 ...audio-driven only (19/24)              -                         0.832                     0.831; 0.842 (+ tight)    0.969
real clips at lipsync risk >= 0.5          1 (d20.mp4, 0.94)         0 (d20.mp4 0.42)          0 (d20.mp4 0.41)          0 (video2.mp4 0.42)
=========================================  ========================  ========================  ========================  ========================

(The median confidence of the prefixes is over all their rows.) The second column reproduced on
a new machine exactly. ``--rows`` also prints each row's chance level (the peak against the voice
reversed) and landmark jitter. Its 17 unjudged copies: real_talking_02 (3.9 s of speech, 186 px
between the eyes, jitter 0.0007) and M003-028 (4.3 s, 276 px, 0.0008) read right on every copy
but no higher than chance (peak 0.38-0.40 vs 0.40-0.41; 0.22-0.25 vs 0.29-0.34); M003-002 (2.4 s),
d11 (8.6 s, LivePortrait driving clip) and 2person (6.5 s, two faces) never lock (copies
disagree); real_stage_speech's +200 (49 px eyes, jitter 0.0056) falls just under the bar
(confidence 0.09), its +400 reads -942 ms (no lock). The mouth darkness (third column; see
detectors/lipsync.py and bench/lipsync_appearance.py, where it was chosen out of fold) makes
real_talking_02 (all four readings), d11 (all four: -54/-359/+147/+345) and M003-002 (its own and
the +400 copy) lock, with the same chance bar; 2person and M003-028 stay unjudged; real_talking_01
loses its +400 copy and real_stage_speech its own reading (confidence 0.11, just under). The AUC
moves by near-ties (a real MEAD clip now judged with its voice 146 ms late, offset part 0.02; a
HyperLips fake's silent-motion part 0.30 -> 0.29). "+ tight": with the tight-mouth part (how
tightly the darkness follows the voice; its bars, like the driven mouth's, from the other folds'
real clips: median and highest + TIGHT_MARGIN), highest real clip 0.42 (video2.mp4).

Last column: the generated-mouth part (detectors/lipsync.py; probe, features and bars from
training/train_lipsync_mouth.py's fold copies out/folds/lipsync_mouth_fold<k>.json, each chosen and
fitted without its fold), read from the face-swap recipe's aligned crops of each clip
(out/faceswap_net/crops/, :func:`face_crops`: offered as the check offers them during the pass,
8 read), in the re-voiced/audio-driven table only (the offsets above do not depend on it). The
audio-driven fakes gain most (VASA-1 clips at 0.07-0.20 now 0.30-0.45); re-voiced 0.880 -> 0.875
by a near-tie (a HyperLips fake at 0.11, its part 0.04, meets real clips the part lifts to
0.10-0.11); real clips' part 0-0.11 (the highest risk is still video2.mp4's driven mouth, 0.42).
Read with 2-3 crops a clip (one per 2.5 s) instead of 8: 0.937 / 0.870 / 0.965.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detectors.audio import AudioFeatureExtractor, AudioTrack  # noqa: E402
from detectors.base import RecordingContext  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402
from detectors import lipsync as ls  # noqa: E402
from detectors.lipsync import DEFAULT_METHOD, LipSyncDetector  # noqa: E402
from detectors.media import stream_audio  # noqa: E402
from detectors.models import fold_models  # noqa: E402
from lipsync_cache import CACHE_DIR, cached_track, speaking_rows  # noqa: E402

SHIFTS_MS = (0, -300, 200, 400)
TOLERANCE_MS = 80.0
PREFIXES_S = (5.0, 10.0)
MIN_SPEECH_S = 2.0
"""A real clip enters the shift table with at least this much speech with a face in view."""
FOLD_DIR = ROOT / "out" / "folds"
DRIVEN_MARGIN = 0.10
"""Out of fold, the driven-mouth part is full at the training folds' highest real value + this
(the shipped DRIVEN_BAD: 0.49 + 0.11)."""
TIGHT_MARGIN = 0.10
"""The same for the tight-mouth part (the shipped TIGHT_BAD: 0.58 + 0.10)."""


def speaking_videos(media: Path) -> list[dict[str, str]] | None:
    """The manifest rows (manifest.csv) of the videos with audio (None, said, when there is no manifest);
    the lip-sync study scripts beside this one read them the same way."""
    manifest = media / "manifest.csv"
    if not manifest.exists():
        print(f"no manifest at {manifest}: nothing to measure")
        return None
    with manifest.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["kind"] == "video" and r["audio"] == "yes"]


def shifted_copy(src: Path, dst: Path, shift_s: float) -> None:
    """Copy ``src`` to ``dst`` (mkv) with video packets unchanged and the audio ``shift_s`` late."""
    with av.open(str(src)) as inp:
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


AUDIO_FIELDS = ("energy_db", "flux", "voiced", "bands_db", "mel_db", "speech_prob")


def audio_of(path: Path, key: str) -> AudioTrack:
    """The engine's audio features of ``path`` (cached under out/ by ``key``)."""
    f = CACHE_DIR / f"audio_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if f.exists():
        z = np.load(f)
        return AudioTrack(True, float(z["hop_s"]), *(z[k] for k in AUDIO_FIELDS[:3]), float(z["duration_s"]), float(z["start_s"]),
                          z["bands_db"], z["mel_db"], z["speech_prob"], str(z["vad"]))
    ex = AudioFeatureExtractor()
    for c in stream_audio(path):
        ex.push(c.samples, c.t)
    a = ex.finish()
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez(f, hop_s=a.hop_s, duration_s=a.duration_s, start_s=a.start_s, vad=a.vad, **{k: getattr(a, k) for k in AUDIO_FIELDS})
    return a


FACE_CROPS = ROOT / "out" / "faceswap_net"
"""The face-swap recipe's aligned 192 px RGB crops of every labelled file (training/faceswap_crops.py):
the faces the generated-mouth probe reads, as the check keeps them during the pass."""


def face_crops(path: Path) -> list[tuple[float, np.ndarray]]:
    """(t, aligned crop) of ``path`` as the check offers them to its generated-mouth probe (one per
    ls.MOUTH_EVERY_S of the recipe's crops, which cover the first 20 s); empty without the crops."""
    index = FACE_CROPS / "files.json"
    if not index.is_file():
        return []
    ids = {Path(f["path"]).as_posix(): f["id"] for f in json.loads(index.read_text())}
    rel = next((k for k in ids if path.as_posix().endswith("/" + k)), None)
    if rel is None or not (FACE_CROPS / "crops" / f"{ids[rel]}.npz").is_file():
        return []
    z = np.load(FACE_CROPS / "crops" / f"{ids[rel]}.npz")
    out, next_t = [], -math.inf
    for t, c in zip(z["t"], z["big"]):
        if t >= next_t:
            out.append((float(t), c))
            next_t = float(t) + ls.MOUTH_EVERY_S
    return out


def check(track: SimpleNamespace, audio: AudioTrack, fold: int | None, method: str, sharpness: bool = True,
          crops: list[tuple[float, np.ndarray]] | None = None):
    """The lipsync check on a cached track (and its mouth/eye sharpness and mouth darkness samples, and
    the face crops for the generated-mouth probe when given), out-of-fold."""
    det = LipSyncDetector(method=method)
    if det._mouth_kept is not None:
        for item in crops or []:
            det._mouth_kept.offer(item)
    if sharpness:
        det._sharpness = [float(v) for v in track.sharpness]
    if getattr(track, "mouth_dark", None) is not None:
        keep = track.mouth_dark_t < (track.times[-1] + 1e-6 if track.times.size else -np.inf)  # a prefix's frames only
        det._dark_t = [float(v) for v in track.mouth_dark_t[keep]]
        det._dark = [float(v) for v in track.mouth_dark[keep]]
    with fold_models(FOLD_DIR if fold is not None else None, fold):
        return det.analyze(RecordingContext(track.path, track, audio, {"pipeline.analysis_fps": track.analysis_fps}))


def prefix(track: SimpleNamespace, audio: AudioTrack, seconds: float) -> tuple[SimpleNamespace, AudioTrack]:
    """The first ``seconds`` of a track and its audio (as if the recording stopped there)."""
    t0 = min(track.times[0] if track.times.size else 0.0, audio.start_s)
    keep = track.times < t0 + seconds
    tr = SimpleNamespace(**{**vars(track), "times": track.times[keep], "frame_indices": track.frame_indices[keep],
                            "n_faces": track.n_faces[keep], "boxes": track.boxes[keep], "landmarks": track.landmarks[keep],
                            "frames_with_face": int(np.isfinite(track.boxes[keep][:, 0]).sum()) if keep.any() else 0})
    k = audio.times < t0 + seconds
    au = replace(audio, energy_db=audio.energy_db[k], flux=audio.flux[k], voiced=audio.voiced[k], bands_db=audio.bands_db[k],
                 mel_db=audio.mel_db[k], speech_prob=audio.speech_prob[k] if audio.speech_prob.size else audio.speech_prob,
                 duration_s=min(audio.duration_s, seconds))
    return tr, au


def auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def fmt(v: float | None, spec: str = "+.0f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def offset_of(f) -> float | None:
    """The offset the check stands by (None when it cannot judge)."""
    e = f.evidence
    return None if e.get("cannot_judge") or e.get("offset_ms") is None else float(e["offset_ms"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--method", default=DEFAULT_METHOD, choices=("learned", "xcorr"))
    ap.add_argument("--shipped", action="store_true", help="score with the shipped model, not the fold models (in-sample!)")
    ap.add_argument("--rows", action="store_true", help="also print every row's peak figures (lock, sharpness, agreement)")
    args = ap.parse_args()
    media = Path(args.media)
    rows = speaking_rows(media)
    if not rows:
        print(f"no manifests with videos with audio under {media}: nothing to measure")
        return 1
    t_start = time.time()
    shift_rows: list[tuple[str, int, float, object]] = []  # clip, shift, speech_s, finding
    prefix_rows: list[tuple[str, int, float, object]] = []  # clip, shift, seconds, finding
    orig: list[tuple[str, str, str, object]] = []  # clip, label, manipulation, finding
    fold_by_clip: dict[str, int] = {}
    inputs_by_clip: dict[str, tuple] = {}
    with tempfile.TemporaryDirectory(prefix="lipsync_bench_") as tmp:
        for r in rows:
            src = media / r["path"]
            fold = None if args.shipped else fold_of(group_key(r.get("group"), r.get("source"), r["path"]))
            track = cached_track(src)
            audio = audio_of(src, f"{src.resolve()}|{src.stat().st_mtime}|0")
            f0 = check(track, audio, fold, args.method)
            orig.append((src.name, r["label"], r.get("manipulation", ""), f0))
            fold_by_clip[src.name] = fold_of(group_key(r.get("group"), r.get("source"), r["path"]))
            inputs_by_clip[src.name] = (track, audio)
            if r["label"] != "real" or (f0.evidence.get("speech_seconds") or 0.0) < MIN_SPEECH_S:
                continue
            for shift in SHIFTS_MS:
                if shift == 0:
                    f, a = f0, audio
                else:
                    dst = Path(tmp) / f"{src.stem}_shift{shift:+d}.mkv"
                    key = f"{src.resolve()}|{src.stat().st_mtime}|{shift}"
                    if not (CACHE_DIR / f"audio_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz").exists():
                        shifted_copy(src, dst, shift / 1000.0)
                    a = audio_of(dst, key)
                    f = check(track, a, fold, args.method)
                shift_rows.append((src.name, shift, f.evidence.get("speech_seconds") or 0.0, f))
                for secs in PREFIXES_S:
                    tr_p, au_p = prefix(track, a, secs)
                    prefix_rows.append((src.name, shift, secs, check(tr_p, au_p, fold, args.method)))
            print(f"  {src.name}: done ({time.time() - t_start:.0f} s)", file=sys.stderr, flush=True)

    scope = "shipped model (in-sample)" if args.shipped else "out-of-fold models"
    print(f"\nLip-sync benchmark, method {args.method}, {scope}; positive = audio late; tolerance +-{TOLERANCE_MS:.0f} ms")
    own = {c: offset_of(f) for c, s, _, f in shift_rows if s == 0}
    print(f"\n{'clip':34s} {'speech s':>8s} " + " ".join(f"{s:+5d} ms (conf)" for s in SHIFTS_MS))
    clips = sorted({c for c, *_ in shift_rows})
    for c in clips:
        cells = []
        for s in SHIFTS_MS:
            f = next(f for cc, ss, _, f in shift_rows if cc == c and ss == s)
            o = offset_of(f)
            cells.append(f"{'n/j' if o is None else fmt(o):>7s} ({f.confidence:.2f})")
        sp = next(sp for cc, ss, sp, _ in shift_rows if cc == c and ss == 0)
        print(f"{c:34s} {sp:8.1f} " + " ".join(f"{x:>15s}" for x in cells))

    if args.rows:
        print(f"\n{'clip':34s} {'shift':>5s} {'best ms':>7s} {'rel err':>7s} {'lock':>6s} {'sharp':>6s} {'agree':>5s} {'conf':>5s} {'chance':>6s} {'jitter':>6s} judged")
        for c, s, _, f in shift_rows:
            e = f.evidence
            best = e.get("offset_ms")
            rel = (best - own[c] - s) if (best is not None and own.get(c) is not None) else None
            print(f"{c:34s} {s:+5d} {fmt(best):>7s} {fmt(rel):>7s} {fmt(e.get('lock'), '.3f'):>6s} {fmt(e.get('peak_sharpness'), '.3f'):>6s} "
                  f"{fmt(e.get('window_consistency'), '.2f'):>5s} {fmt(e.get('sync_confidence'), '.2f'):>5s} "
                  f"{fmt(e.get('chance_peak'), '.3f'):>6s} {fmt(e.get('landmark_noise'), '.4f'):>6s} {'no' if e.get('cannot_judge') else 'yes'}")

    def summary(rows_: list, label: str) -> None:
        n = len(rows_)
        judged = [(c, s, offset_of(f)) for c, s, f in rows_ if offset_of(f) is not None]
        rel = [o - own[c] - s for c, s, o in judged if own.get(c) is not None and s != 0]
        zero = [o - s for c, s, o in judged]
        n_rel = len(rel)
        # a copy judged while its clip's own reading is not has no truth to be checked against:
        # "strict" counts it as a miss (it is a lock the unshifted clip did not vouch for)
        unverified = sum(1 for c, s, o in judged if own.get(c) is None and s != 0)
        hits = sum(abs(e) <= TOLERANCE_MS for e in rel)
        print(f"{label:28s} n {n:3d}  judged {len(judged):3d} ({len(judged) / max(n, 1):.0%})"
              f"  within 80 ms of own+shift {hits}/{n_rel}"
              f" ({(hits / n_rel) if n_rel else float('nan'):.0%}), median |err| {fmt(np.median(np.abs(rel)) if rel else None, '.0f')} ms"
              f"  | strict (unverified judged copies as misses) {hits}/{n_rel + unverified}"
              f" ({(hits / (n_rel + unverified)) if n_rel + unverified else float('nan'):.0%})"
              f"  | vs 0+shift: {sum(abs(e) <= TOLERANCE_MS for e in zero)}/{len(zero)}"
              f" ({(sum(abs(e) <= TOLERANCE_MS for e in zero) / len(zero)) if zero else float('nan'):.0%}), median |err| {fmt(np.median(np.abs(zero)) if zero else None, '.0f')} ms")

    print()
    summary([(c, s, f) for c, s, _, f in shift_rows], "all rows (4 per clip)")
    summary([(c, s, f) for c, s, _, f in shift_rows if s != 0], "shifted copies only")
    print(f"(clips {len(clips)}; own reading judged on {sum(v is not None for v in own.values())})")

    print("\nPrefixes (error against the clip's own full reading + shift; confidence over all rows)")
    print(f"{'prefix s':>8s} {'n':>4s} {'judged':>7s} {'within 80':>9s} {'median |err|':>12s} {'median conf':>11s} {'conf judged/n-j':>15s}")
    for secs in PREFIXES_S:
        rs = [(c, s, f) for c, s, sx, f in prefix_rows if sx == secs]
        judged = [(c, s, offset_of(f), f.confidence) for c, s, f in rs if offset_of(f) is not None]
        errs = [o - own[c] - s for c, s, o, _ in judged if own.get(c) is not None]
        nj_conf = [f.confidence for c, s, f in rs if offset_of(f) is None]
        print(f"{secs:8g} {len(rs):4d} {len(judged):7d} {fmt(np.mean(np.abs(errs) <= TOLERANCE_MS) * 100 if errs else None, '.0f'):>8s}% "
              f"{fmt(np.median(np.abs(errs)) if errs else None, '.0f'):>12s} {np.median([f.confidence for *_, f in rs]) if rs else float('nan'):11.2f} "
              f"{fmt(np.median([j[3] for j in judged]) if judged else None, '.2f'):>7s}/{fmt(np.median(nj_conf) if nj_conf else None, '.2f')}")

    # the driven-mouth part's bars, out of fold: from the training folds' real clips (their median
    # and their highest value + DRIVEN_MARGIN), and the held-out clips scored again with them
    vp = {c: f.evidence.get("voice_predictability") for c, _, _, f in orig}
    tp = {c: f.evidence.get("mouth_darkness_lock") for c, _, _, f in orig}
    folds = {src_name: k for src_name, k in fold_by_clip.items()}
    rescored = []
    for c, lab, man, f in orig:
        train = [v for cc, ll, _, _ in orig if ll == "real" and folds[cc] != folds[c] and (v := vp[cc]) is not None]
        train_t = [v for cc, ll, _, _ in orig if ll == "real" and folds[cc] != folds[c] and (v := tp[cc]) is not None]
        if not train:
            rescored.append((c, lab, man, f))
            continue
        keep = (ls.DRIVEN_OK, ls.DRIVEN_BAD, ls.TIGHT_OK, ls.TIGHT_BAD)
        ls.DRIVEN_OK, ls.DRIVEN_BAD = float(np.median(train)), float(np.max(train)) + DRIVEN_MARGIN
        if train_t:
            ls.TIGHT_OK, ls.TIGHT_BAD = float(np.median(train_t)), float(np.max(train_t)) + TIGHT_MARGIN
        try:
            t, a = inputs_by_clip[c]
            rescored.append((c, lab, man, check(t, a, None if args.shipped else folds[c], args.method, crops=face_crops(Path(t.path)))))
        finally:
            ls.DRIVEN_OK, ls.DRIVEN_BAD, ls.TIGHT_OK, ls.TIGHT_BAD = keep
    orig = rescored

    print("\nRe-voiced / audio-driven fakes against every real clip with audio (lipsync risk, out-of-fold; driven- and tight-mouth bars from the other folds)")
    print(f"{'clip':38s} {'label':5s} {'risk':>5s} {'conf':>5s} {'offset':>7s} {'parts'}")
    for c, lab, man, f in orig:
        e = f.evidence
        parts = " ".join(f"{k}={v:.2f}" for k, v in (e.get("risk_parts") or {}).items() if v)
        print(f"{c:38s} {lab:5s} {f.risk:5.2f} {f.confidence:5.2f} {fmt(offset_of(f)):>7s} {parts}  {man[:30]}")
    real = [f.risk for _, lab, _, f in orig if lab == "real"]
    kinds = {"re-voiced (HyperLips, Wav2Lip)": lambda m: "lipsync" in m.lower() or "hyperlips" in m.lower(),
             "audio-driven (VASA-1, animated portrait)": lambda m: "talking-head" in m.lower(),
             "all lip-sync / audio-driven": lambda m: "lipsync" in m.lower() or "talking-head" in m.lower()}
    for name, is_kind in kinds.items():
        fk = [f.risk for _, lab, man, f in orig if lab == "fake" and is_kind(man)]
        print(f"AUC {name}: {auc(fk, real):.3f} (fakes {len(fk)}, real {len(real)})")
    print(f"real clips with lipsync risk >= 0.5: {sum(r >= 0.5 for r in real)} of {len(real)}")
    print(f"\n({time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
