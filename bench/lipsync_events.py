"""Lip-sync study: an event-based audio-visual offset from bilabial releases, beside the check's
cross-correlation, and the container timing of every clip.

Why: the check (cross-correlation of mouth-opening speed with formant-band onsets) reads
real_presenter.mp4 at ~+120 ms (audio late), beyond its +-80 ms target. Is the file's audio
late, or is the feature chain biased for that speaker? This script measures the offset a second,
independent way:

* Bilabial closures. At /p/ /b/ /m/ the lips close completely, and while they are closed the
  mouth radiates no oral sound: the second-formant band (800-3000 Hz; a nasal murmur is weak
  there) falls silent, and the sound returns as the lips re-open. From the Face Mesh inner-lip
  contour (gap between facing upper and lower inner-lip points over the eye-corner distance) we
  find closures: runs of >= ``MIN_CLOSED_FRAMES`` analysed frames with the gap under a level
  ``CLOSED_REL`` of the way from the clip's 5th to its 95th gap percentile, opened by at least
  ``OPEN_MIN`` before and after. For each lag L in +-``SEARCH_S`` we average, over the closures,
  the band energy (dB above its own +-``CONTEXT_S`` running mean) inside the closure interval
  moved by L; the lag where that is lowest is where the sound's silences line up with the lips'
  closures: the event-based offset (positive = audio late). Its spread is the bootstrap over
  closures. It shares nothing with the check's cross-correlation but the face track.
* Container timing: each stream's start time, the audio priming the decoder dropped (samples
  decoded with and without the edit list), the encoder tag.
* The xcorr offset of the check itself (lipsync.estimate_offset) at the same frame rate.

    uv run python bench/lipsync_events.py [--fps 0] [--media ../shared/media] [--shift-test]

``--fps 0`` analyses every source frame (30 fps on the presenter clips). ``--shift-test`` also
re-measures every real clip with its decoded audio shifted in memory by -200/+200 ms (the events'
lags must move by the shift).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import lipsync as ls  # noqa: E402
from lipsync_bench import speaking_videos  # noqa: E402
from detectors.mesh_points import point  # noqa: E402

INNER_LIP_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
"""Inner-lip points facing each other across the middle of the mouth (upper, lower): where a
bilabial closure is complete. The mouth corners are left out (they touch whatever the lips do)."""

EYE = (33, 263)

CLOSED_REL = 0.1
"""Closed lips: gap under p5 + this share of (p95 - p5) of the clip's gaps (Face Mesh never reads an
exact 0, and its closed level differs between faces: 0.006-0.021 eye distances measured)."""

MIN_CLOSED_FRAMES = 2
"""A closure lasts this many analysed frames (a bilabial stop's closure is 60-150 ms)."""

OPEN_MIN = 0.035
"""The gap must exceed the closure's minimum by this much (eye distances) within OPEN_WITHIN_S on both sides."""

OPEN_WITHIN_S = 0.25

SILENCE_BAND_HZ = (800.0, 3000.0)
"""Band whose silence marks closed lips (second formant; nasal murmur is weak above 800 Hz)."""

SEARCH_S = 0.5
"""Lags searched each way (s)."""

LAG_STEP_S = 0.005

CONTEXT_S = 0.3
"""Band energy is taken relative to its running mean over +-this (s): louder and quieter passages cancel."""

ENV_HOP_S = 0.002
ENV_WIN_S = 0.02


@dataclass
class Clip:
    name: str
    label: str
    times: np.ndarray  # analysed frame times (s)
    gap: np.ndarray  # inner-lip gap / eye distance (NaN no face)
    samples: np.ndarray  # mono 16 kHz
    t0: float  # time of samples[0]
    track: object
    audio: object


def load(path: Path, fps: float, cache: Path | None = None) -> Clip:
    """Track, audio features and decoded samples of ``path`` (pickled in ``cache`` when given)."""
    import pickle

    key = cache / f"{path.stem}_{fps:g}.pkl" if cache else None
    if key is not None and key.exists():
        return pickle.loads(key.read_bytes())
    clip = _load(path, fps)
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(pickle.dumps(clip))
    return clip


def _load(path: Path, fps: float) -> Clip:
    from detectors.audio import AudioFeatureExtractor
    from detectors.faces import FaceTracker
    from detectors.media import AudioChunk, VideoFrame, VideoStream

    chunks: list[np.ndarray] = []
    t0 = None
    with VideoStream(path, analysis_fps=fps) as stream:
        tracker = FaceTracker(str(stream.path), stream.info.fps, fps, stream.info.duration_s)
        extractor = AudioFeatureExtractor()
        for item in stream:
            if isinstance(item, VideoFrame):
                tracker.add(item)
            elif isinstance(item, AudioChunk):
                extractor.push(item.samples, item.t)
                if t0 is None:
                    t0 = item.t
                chunks.append(item.samples)
    track, audio = tracker.finish(), extractor.finish()
    lm = track.landmarks.astype(np.float64)
    eye = np.linalg.norm(point(lm, EYE[0]) - point(lm, EYE[1]), axis=1)
    gap = np.mean([np.linalg.norm(point(lm, a)[:, :2] - point(lm, b)[:, :2], axis=1) for a, b in INNER_LIP_PAIRS], axis=0) / eye
    return Clip(path.name, "", track.times.astype(float), gap, np.concatenate(chunks) if chunks else np.zeros(0, np.float32),
                float(t0 or 0.0), track, audio)


def band_envelope(samples: np.ndarray, band: tuple[float, float] = SILENCE_BAND_HZ, rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """(times relative to samples[0] at window centres, log energy dB) in ``band``."""
    hop, win = int(ENV_HOP_S * rate), int(ENV_WIN_S * rate)
    nfft = 1 << (win - 1).bit_length()
    n = 0 if samples.size < win else 1 + (samples.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(samples[idx] * np.hanning(win), n=nfft, axis=1)) ** 2
    f = np.fft.rfftfreq(nfft, 1 / rate)
    keep = (f >= band[0]) & (f <= band[1])
    e = 10 * np.log10(spec[:, keep].sum(axis=1) + 1e-10)
    return np.arange(n) * hop / rate + win / 2 / rate, e


def closures(times: np.ndarray, gap: np.ndarray, level: float) -> list[tuple[float, float]]:
    """(closing time, release time) of every run of closed lips (gap < level), each time where the
    gap crosses ``level`` (interpolated between frames)."""
    out = []
    below = gap < level
    n, i = gap.size, 0
    while i < n:
        if not below[i]:
            i += 1
            continue
        j = i
        while j < n and below[j]:
            j += 1
        if i > 0 and j < n and j - i >= MIN_CLOSED_FRAMES and np.isfinite(gap[i - 1 : j + 1]).all():
            low = float(np.min(gap[i:j]))
            after = (times > times[j - 1]) & (times <= times[j - 1] + OPEN_WITHIN_S)
            before = (times < times[i]) & (times >= times[i] - OPEN_WITHIN_S)
            if after.any() and before.any() and np.nanmax(gap[after]) - low >= OPEN_MIN and np.nanmax(gap[before]) - low >= OPEN_MIN:
                a, b = gap[j - 1], gap[j]
                t_rel = times[j - 1] + (level - a) / (b - a) * (times[j] - times[j - 1])
                a, b = gap[i - 1], gap[i]
                t_close = times[i - 1] + (a - level) / (a - b) * (times[i] - times[i - 1])
                out.append((float(t_close), float(t_rel)))
        i = j
    return out


def closure_silence(events: list[tuple[float, float]], env_t: np.ndarray, env: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lags, per-event curves): mean band energy (dB over its running mean) inside each closure moved by each lag."""
    from scipy.ndimage import uniform_filter1d

    k = int(round(CONTEXT_S / ENV_HOP_S))
    rel = env - uniform_filter1d(env, 2 * k + 1, mode="nearest")
    csum = np.concatenate([[0.0], np.cumsum(rel)])
    lags = np.arange(-SEARCH_S, SEARCH_S + 1e-9, LAG_STEP_S)
    curves = np.full((len(events), lags.size), np.nan)
    for e, (tc, tr) in enumerate(events):
        a = np.searchsorted(env_t, tc + lags)
        b = np.searchsorted(env_t, tr + lags)
        ok = (b - a >= 3) & (a > 0) & (b < env.size)
        curves[e, ok] = (csum[b[ok]] - csum[a[ok]]) / (b[ok] - a[ok])
    return lags, curves


def event_offset(lags: np.ndarray, curves: np.ndarray, n_boot: int = 500, seed: int = 0) -> tuple[float, float, float]:
    """(offset s, bootstrap std s, depth dB at the offset) from the per-event curves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(curves, axis=0)
        if not np.isfinite(mean).any():
            return float("nan"), float("nan"), float("nan")
        i = int(np.nanargmin(mean))
        rng = np.random.default_rng(seed)
        boot = []
        for _ in range(n_boot):
            m = np.nanmean(curves[rng.integers(0, len(curves), len(curves))], axis=0)
            if np.isfinite(m).any():
                boot.append(lags[int(np.nanargmin(m))])
    return float(lags[i]), float(np.std(boot)) if boot else float("nan"), float(mean[i])


def xcorr_offset(track, audio) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sig = ls.build_signals(track, audio)
        est = ls.estimate_offset(sig, 1.0)
    return (est.offset_s * 1000.0, est.confidence) if est is not None else (float("nan"), 0.0)


def container_timing(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        info = {"encoder": c.metadata.get("encoder", ""),
                "v_start_ms": float(v.start_time * v.time_base) * 1000 if v.start_time is not None else float("nan"),
                "a_start_ms": float(a.start_time * a.time_base) * 1000 if a is not None and a.start_time is not None else float("nan")}
        if a is None:
            return info
        rate = a.codec_context.sample_rate
        kept = sum(f.samples for f in c.decode(a))
    with av.open(str(path), options={"ignore_editlist": "1"}) as c:
        raw = sum(f.samples for f in c.decode(c.streams.audio[0]))
    info["priming_dropped_ms"] = (raw - kept) / rate * 1000.0
    return info


def measure(clip: Clip, shift_s: float = 0.0) -> dict[str, object]:
    env_t, env = band_envelope(clip.samples)
    env_t = env_t + clip.t0 + shift_s
    ok = np.isfinite(clip.gap)
    if ok.sum() < 4:
        return {"n_events": 0, "event_ms": float("nan"), "event_sd_ms": float("nan"), "depth_db": float("nan"), "level": float("nan")}
    p5, p95 = np.nanpercentile(clip.gap, [5, 95])
    level = p5 + CLOSED_REL * (p95 - p5)
    events = closures(clip.times, clip.gap, level)
    if not events:
        return {"n_events": 0, "event_ms": float("nan"), "event_sd_ms": float("nan"), "depth_db": float("nan"), "level": level}
    lags, curves = closure_silence(events, env_t, env)
    off, sd, depth = event_offset(lags, curves)
    return {"n_events": len(events), "event_ms": off * 1000, "event_sd_ms": sd * 1000, "depth_db": depth, "level": level,
            "events": [(round(a, 2), round(b, 2)) for a, b in events]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--fps", type=float, default=0.0, help="analysis rate; 0 = every source frame")
    ap.add_argument("--shift-test", action="store_true")
    ap.add_argument("--cache", default="", help="folder to keep the decoded tracks in between runs (a study aid)")
    ap.add_argument("--verbose", action="store_true", help="print every event's lag")
    args = ap.parse_args()
    media = Path(args.media)
    rows = speaking_videos(media)
    if rows is None:
        return 1
    print(f"Bilabial-closure events vs cross-correlation (analysis {'every frame' if not args.fps else f'{args.fps:g} fps'}; "
          "positive = audio late)")
    head = (f"{'file':34s} {'label':5s} {'encoder':22s} {'v0 ms':>6s} {'a0 ms':>6s} {'primed':>6s} {'xcorr':>6s} {'conf':>5s} "
            f"{'closed<':>7s} {'events':>6s} {'event ms':>8s} {'+-':>4s} {'depth dB':>8s}")
    print(head)
    print("-" * len(head))
    shift_rows = []
    for r in rows:
        path = media / r["path"]
        clip = load(path, args.fps, Path(args.cache) if args.cache else None)
        ti = container_timing(path)
        xo, xc = xcorr_offset(clip.track, clip.audio)
        m = measure(clip)
        print(f"{path.name:34s} {r['label']:5s} {str(ti['encoder'])[:22]:22s} {ti['v_start_ms']:6.1f} {ti['a_start_ms']:6.1f} "
              f"{ti.get('priming_dropped_ms', float('nan')):6.1f} {xo:+6.0f} {xc:5.2f} {m['level']:7.3f} {m['n_events']:6d} "
              f"{m['event_ms']:+8.0f} {m['event_sd_ms']:4.0f} {m['depth_db']:8.1f}", flush=True)
        if args.verbose:
            print("    closures (close, release) s:", m.get("events"))
        if args.shift_test and r["label"] == "real":
            for s in (-0.2, 0.2):
                ms = measure(clip, s)
                shift_rows.append((path.name, s * 1000, m["event_ms"], ms["event_ms"], ms["n_events"]))
    if shift_rows:
        print("\nEvent offset with the audio shifted in memory (must move by the shift)")
        for name, s, base, est, n in shift_rows:
            print(f"  {name:30s} shift {s:+5.0f} ms: event {est:+6.0f} ms (n {n}), moved {est - base:+6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
