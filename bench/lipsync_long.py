"""Long recordings made by construction from a real clip: do lips and voice stay in step for 10 minutes?

Two recordings are written from one real clip (default: real_presenter.mp4), each about
``--minutes`` long:

* gaps: the clip repeated, every repeat starting video and audio together at the same time
  (so each repeat's audio ends early by the difference of the tracks' lengths, ~20-30 ms, a gap
  in the audio timestamps), and one audio packet dropped in every repeat at a random place (a
  lost packet: another gap). Counting samples instead of reading timestamps would pull the audio
  ~50 ms earlier at every repeat: seconds by the end.
* vfr: the same, with the video re-encoded at a variable frame rate (each frame kept with
  probability VFR_KEEP, timestamps kept: intervals of one to several frames, a 1 ms time base).

Each runs through the pipeline's pass (VideoStream, FaceTracker, the lipsync check) and prints
the lipsync risk, confidence, the typical offset and the spread of the per-window local offsets
against the clip's own reading (the first window's stretch), plus CPU time per analysed frame.

    uv run python bench/lipsync_long.py [--clip ../shared/media/video/real_presenter.mp4] [--minutes 10]

Measured with the mouth darkness and the tight-mouth part (2-core machine, 10 minutes): gaps 9032
frames, risk 0.16, offset +127 ms, every one of 1199 windows' local offsets within 80 ms of the
first minute's (range +123..+131 ms), 14.4 ms CPU per analysed frame for the whole pass; vfr 7355
frames, risk 0.18, +138 ms, 1191 windows all within (+135..+141 ms), 13.3 ms CPU per frame.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from detectors.base import RecordingContext  # noqa: E402
from detectors.lipsync import LipSyncDetector  # noqa: E402
from fixtures.talking_head import stream_clip  # noqa: E402

SEED = 13
VFR_KEEP = 0.7
"""Share of the frames kept in the variable-frame-rate copy."""
TOLERANCE_MS = 80.0


def vfr_copy(src: Path, dst: Path, seed: int = SEED) -> None:
    """``src`` with its video re-encoded at a variable frame rate (random frames dropped, the
    others keep their timestamps) and its audio packets copied."""
    rng = np.random.default_rng(seed)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0]
        vout = out.add_stream("libx264", rate=int(round(float(vin.average_rate or 25))))
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.codec_context.time_base = Fraction(1, 1000)
        vout.time_base = Fraction(1, 1000)
        vout.options = {"crf": "20", "preset": "veryfast", "bf": "0"}  # no B-frames: pts = dts, simple to loop
        aout = out.add_stream_from_template(ain)
        for packet in inp.demux(vin, ain):
            if packet.dts is None:
                continue
            if packet.stream is ain:
                packet.stream = aout
                out.mux(packet)
                continue
            for frame in packet.decode():
                if rng.random() > VFR_KEEP:
                    continue
                t = float(frame.pts * frame.time_base)
                nf = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
                nf.pts = int(round(t * 1000))
                nf.time_base = Fraction(1, 1000)
                for p in vout.encode(nf):
                    out.mux(p)
        for p in vout.encode(None):
            out.mux(p)


def loop_with_gaps(src: Path, dst: Path, minutes: float, seed: int = SEED) -> int:
    """Repeat ``src`` until ``minutes`` long; every repeat starts both tracks at the same time and
    drops one audio packet. Returns the number of repeats."""
    rng = np.random.default_rng(seed)
    with av.open(str(src)) as probe:
        one = float(probe.duration or 0) / av.time_base
    loops = max(1, int(round(minutes * 60.0 / one)))
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        streams = [s for s in inp.streams if s.type in ("video", "audio")][:2]
        mapping = {s.index: out.add_stream_from_template(s) for s in streams}
        n_audio = sum(1 for p in inp.demux(inp.streams.audio[0]) if p.dts is not None)
        base = 0.0  # s: where this repeat starts
        for _ in range(loops):
            inp.seek(0)
            drop = int(rng.integers(1, max(2, n_audio - 1)))
            k_audio = 0
            end = 0.0
            first: dict[int, int] = {}
            for packet in inp.demux(*streams):
                if packet.dts is None and packet.pts is None:
                    continue
                s = packet.stream
                tb = s.time_base
                first.setdefault(s.index, packet.dts if packet.dts is not None else packet.pts)
                if s.type == "audio":
                    k_audio += 1
                    if k_audio == drop:
                        continue
                shift = int(round(base / tb)) - min(first[s.index], 0)
                if packet.dts is not None:
                    packet.dts += shift
                if packet.pts is not None:
                    packet.pts += shift
                end = max(end, float((packet.pts if packet.pts is not None else packet.dts) * tb) + float((packet.duration or 0) * tb))
                packet.stream = mapping[s.index]
                out.mux(packet)
            base = end  # the next repeat starts after the longer track
    return loops


def run(path: Path, fps: float) -> None:
    det = LipSyncDetector()
    t0, c0 = time.time(), time.process_time()
    track, audio = stream_clip(path, analysis_fps=fps, observers=(det,))
    f = det.analyze(RecordingContext(str(path), track, audio, {"pipeline.analysis_fps": fps}))
    wall, cpu = time.time() - t0, time.process_time() - c0
    e = f.evidence
    local = np.array([w["local_offset_ms"] for w in e.get("windows", []) if w.get("local_offset_ms") is not None], float)
    print(f"{path.name}: {track.times.size} frames analysed, audio {audio.duration_s:.1f} s, speech {audio.speech_seconds:.0f} s; "
          f"{wall:.0f} s wall, {cpu:.0f} s CPU ({cpu / max(track.times.size, 1) * 1000:.1f} ms CPU per analysed frame)")
    print(f"  risk {f.risk:.2f}, confidence {f.confidence:.2f}, offset {e.get('offset_ms')} ms (global {e.get('offset_global_ms')}), "
          f"cannot judge {e.get('cannot_judge')}, drift (p10-p90) {e.get('offset_drift_ms')} ms")
    if local.size:
        ref = float(np.median(local[: max(1, local.size // 20)]))
        dev = np.abs(local - ref)
        print(f"  per-window local offsets: {local.size} windows, median {np.median(local):+.0f} ms, range {local.min():+.0f}..{local.max():+.0f} ms; "
              f"within {TOLERANCE_MS:.0f} ms of the first minute's {ref:+.0f} ms: {np.mean(dev <= TOLERANCE_MS):.0%}; "
              f"first/last window {local[0]:+.0f}/{local[-1]:+.0f} ms")
    print(f"  {f.summary}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default=str(ROOT.parent / "shared" / "media" / "video" / "real_presenter.mp4"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--keep", help="folder to keep the constructed recordings in (default: a temp folder)")
    args = ap.parse_args()
    src = Path(args.clip)
    if not src.exists():
        print(f"{src} is not here: nothing to measure")
        return 1
    with tempfile.TemporaryDirectory(prefix="lipsync_long_") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        gaps = folder / f"{src.stem}_gaps_{args.minutes:g}min.mkv"
        n = loop_with_gaps(src, gaps, args.minutes)
        print(f"gaps: {n} repeats of {src.name}, one audio packet dropped per repeat")
        run(gaps, args.fps)
        vfr_one = folder / f"{src.stem}_vfr.mkv"
        vfr_copy(src, vfr_one)
        vfr = folder / f"{src.stem}_vfr_gaps_{args.minutes:g}min.mkv"
        n = loop_with_gaps(vfr_one, vfr, args.minutes)
        print(f"vfr: {n} repeats of a variable-frame-rate copy (each frame kept with p={VFR_KEEP}), one audio packet dropped per repeat")
        run(vfr, args.fps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
