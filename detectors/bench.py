"""`telltale bench`: how the full analysis compares with plain decoding of the same file.

For each file, in a fresh subprocess (so peak memory is that file's alone):
* ``decode_s`` — wall time of a plain PyAV decode of every video frame and the audio;
* ``analysis_s`` — wall time of the full analysis (:func:`detectors.pipeline.analyze_recording`);
* ``ratio`` = analysis_s / decode_s (goal: at most 3);
* ``fps`` — source frames processed per second of analysis; ``realtime`` = duration / analysis_s;
* ``peak_rss_mb`` — peak resident memory of the analysis process plus its embedding worker;
* ``cpu_s`` — where the analysis CPU went: the pass's threads by role (main: Face Mesh calls and
  tracking; native: Face Mesh's graph and FFmpeg's decoder threads; decode: demux, analysis-size
  RGB, audio; observe: the checks' per-frame work), the embedding worker, the checks after the pass.

``--height H`` first re-encodes each file to H px high (H.264, :data:`TRANSCODE_OPTIONS`), to
measure 720p from a 1080p sample; ``--loop-minutes N`` makes a long clip by looping a file
(packets re-stamped, no re-encode), to show how memory grows with length. Both copies are made
once into ``--loop-dir`` (default: a ``telltale-bench`` folder in the system's temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATIO_GOAL = 3.0
MEMORY_GOAL_MB = 1500.0


WARM_RUN_MAX_S = 120.0
"""Files up to this long are analysed twice: the first run (``cold_s``) pays for loading the
models and starting the embedding worker, the second (``analysis_s``) is the steady state a
desktop session sees. Longer files are analysed once (start-up is noise there)."""


def bench_one(path: str, settings: dict[str, float] | None = None) -> dict[str, Any]:
    """Measure one file in this process (call in a fresh process for a clean peak memory)."""
    from .faces import stop_embedding_worker
    from .media import decode_only, probe
    from .pipeline import analyze_recording

    info = probe(path)
    t0 = time.perf_counter()
    frames, _audio_s = decode_only(path)
    decode_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    rec = analyze_recording(path, settings=settings)
    cold_s = time.perf_counter() - t1
    analysis_s = cold_s
    worker_cpu0 = 0.0  # a long file is analysed once: the worker's whole CPU time is that run's
    if info.duration_s <= WARM_RUN_MAX_S:
        worker_cpu0 = _worker_cpu_s()
        t2 = time.perf_counter()
        rec = analyze_recording(path, settings=settings)
        analysis_s = time.perf_counter() - t2
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kb = _worker_peak_kb()
    worker_cpu = _worker_cpu_s() - worker_cpu0
    stop_embedding_worker()
    return {
        "path": path,
        "width": info.width,
        "height": info.height,
        "duration_s": round(info.duration_s, 2),
        "frames": frames,
        "frames_analysed": rec.entry.frames_analysed,
        "decode_s": round(decode_s, 4),
        "cold_s": round(cold_s, 4),
        "analysis_s": round(analysis_s, 4),
        "ratio": round(analysis_s / decode_s, 2) if decode_s > 0 else None,
        "fps": round(frames / analysis_s, 1) if analysis_s > 0 else None,
        "realtime": round(info.duration_s / analysis_s, 2) if analysis_s > 0 else None,
        "peak_rss_mb": round((peak_kb + worker_kb) / 1024.0, 1),
        "peak_main_mb": round(peak_kb / 1024.0, 1),
        "peak_worker_mb": round(worker_kb / 1024.0, 1),
        "load_avg": round(os.getloadavg()[0], 2),
        "timings_s": {k: round(v, 3) for k, v in rec.timings_s.items()},
        "cpu_s": _cpu_breakdown(rec.timings_s, worker_cpu),
    }


def _cpu_breakdown(timings: dict[str, float], worker_cpu: float) -> dict[str, float]:
    """CPU seconds of the (warm) analysis by where they were spent (see pipeline._pass_cpu)."""
    out = {k.split(".", 1)[1]: round(v, 3) for k, v in timings.items() if k.startswith("cpu.")}
    out["embedding_worker"] = round(max(0.0, worker_cpu), 3)  # 0 if the worker was restarted between runs
    out["total"] = round(out.get("pass_total", 0.0) + out["embedding_worker"] + out.get("after_pass", 0.0), 3)
    return out


def _worker_cpu_s() -> float:
    """CPU seconds used so far by the embedding worker process (Linux /proc; 0 elsewhere)."""
    from . import faces

    worker = faces._worker
    if worker is None:
        return 0.0
    try:
        with open(f"/proc/{worker._proc.pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _worker_peak_kb() -> int:
    """Peak resident memory of the embedding worker (VmHWM), read before it is stopped.

    (RUSAGE_CHILDREN would report the parent's size at fork time for a forked-and-exec'd
    child, not the worker's own peak.)"""
    from . import faces

    worker = faces._worker
    if worker is None:
        return 0
    try:
        with open(f"/proc/{worker._proc.pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def loop_clip(src: str | Path, dst: str | Path, minutes: float) -> Path:
    """Write ``dst`` by repeating ``src``'s packets (re-stamped) until it lasts ``minutes``."""
    import av

    dst = Path(dst)
    target = minutes * 60.0
    with av.open(str(src)) as probe_c:
        one = float(probe_c.duration or 0) / av.time_base
    if one <= 0:
        raise ValueError(f"{src}: unknown duration, cannot loop")
    loops = max(1, int(round(target / one)))
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        shift = {i: 0 for i in mapping}  # per stream, in its time base: where this loop starts
        for _ in range(loops):
            inp.seek(0)
            first: dict[int, int] = {}
            end: dict[int, int] = {}
            for packet in inp.demux(*[inp.streams[i] for i in mapping]):
                if packet.dts is None:
                    continue
                i = packet.stream_index
                first.setdefault(i, packet.dts)
                end[i] = max(end.get(i, packet.dts), packet.dts + (packet.duration or 1))
                offset = shift[i] - first[i] if shift[i] else 0
                packet.dts += offset
                if packet.pts is not None:
                    packet.pts += offset
                packet.stream = mapping[i]
                out.mux(packet)
            for i in mapping:
                if i in end:
                    shift[i] = (shift[i] - first[i] if shift[i] else 0) + end[i]
    return dst


TRANSCODE_OPTIONS = {"preset": "medium", "crf": "23"}
"""libx264 settings of ``--height`` copies: a typical recorder's H.264 (High profile, ~1 Mbit/s at 720p)."""


def transcode(src: str | Path, dst: str | Path, height: int) -> Path:
    """Write ``dst``: ``src`` re-encoded to ``height`` px high (H.264, TRANSCODE_OPTIONS, same
    frame times; audio re-encoded to AAC), to measure a resolution the samples do not come in."""
    import av

    dst = Path(dst)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        width = int(round(vin.codec_context.width * height / vin.codec_context.height / 2)) * 2
        vout = out.add_stream("libx264", rate=vin.average_rate, options=dict(TRANSCODE_OPTIONS))
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = vin.time_base
        ain = inp.streams.audio[0] if inp.streams.audio else None
        aout = out.add_stream("aac", rate=ain.codec_context.sample_rate) if ain is not None else None
        streams = [vin] + ([ain] if ain is not None else [])
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    small = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
                    small.pts, small.time_base = frame.pts, frame.time_base
                    out.mux(vout.encode(small))
                elif aout is not None:
                    frame.pts = None
                    out.mux(aout.encode(frame))
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))
    return dst


def _run_subprocess(path: str, settings: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "detectors.bench", "--one", path] + sum((["--set", s] for s in settings), [])
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"path": path, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'file':<36}{'size':>10}{'dur s':>7}{'decode s':>9}{'cold s':>8}{'analysis s':>11}{'ratio':>7}{'fps':>7}{'x RT':>6}{'peak MB':>9}"
    lines = [head]
    for r in rows:
        name = Path(r["path"]).name[:35]
        if "error" in r:
            lines.append(f"{name:<36} ! {r['error']}")
            continue
        size = f"{r['width']}x{r['height']}"
        lines.append(
            f"{name:<36}{size:>10}{r['duration_s']:>7.1f}{r['decode_s']:>9.2f}{r['cold_s']:>8.2f}{r['analysis_s']:>11.2f}"
            f"{r['ratio']:>7.2f}{r['fps']:>7.1f}{r['realtime']:>6.2f}{r['peak_rss_mb']:>9.0f}"
        )
    lines.append(f"ratio = analysis s / decode s (warm; cold s includes loading models). Goals: ratio <= {RATIO_GOAL:g}, peak memory < {MEMORY_GOAL_MB:g} MB.")
    lines.append("")
    lines.append("Where the analysis CPU goes (s; 2 cores give 2 CPU-s per wall second):")
    lines.append(f"{'file':<36}" + "".join(f"{h:>12}" for h in CPU_COLUMNS.values()))
    for r in rows:
        if "error" in r or "cpu_s" not in r:
            continue
        c = r["cpu_s"]
        lines.append(f"{Path(r['path']).name[:35]:<36}" + "".join(f"{c.get(k, 0.0):>12.2f}" for k in CPU_COLUMNS))
    lines.append("main: Face Mesh calls and tracking; mesh+ffmpeg: Face Mesh's graph and FFmpeg's decoder threads;")
    lines.append("decode: demux, analysis-size RGB, audio resampling; observe: the checks' per-frame work and audio")
    lines.append("features; embed: dlib embeddings in the worker process; after: the checks' work after the pass.")
    by_check = [(r, checks) for r in rows if "error" not in r and (checks := _checks(r))]
    if by_check:
        lines.append("")
        lines.append("Each check's share: CPU s of its per-frame work on the observe thread; wall s of its work after the")
        lines.append("pass, and of that the CLIP encoder's runs on its face crops (2 threads):")
        lines.append(f"{'file':<36}{'check':<12}{'per-frame':>11}{'ms/frame':>10}{'after':>8}{'CLIP':>8}")
        for r, checks in by_check:
            for name, (per_frame, after, clip) in checks.items():
                per = 1000.0 * per_frame / max(1, r.get("frames_analysed") or 1)
                lines.append(f"{Path(r['path']).name[:35]:<36}{name:<12}{per_frame:>11.2f}{per:>10.2f}{after:>8.2f}{clip:>8.2f}")
    return "\n".join(lines)


def _checks(r: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """Per check (and the audio features and voice, which have no after-pass part here): CPU s of
    its per-frame work, wall s after the pass, wall s of CLIP encoder runs after the pass."""
    cpu, t = r.get("cpu_s", {}), r.get("timings_s", {})
    names = [k.split(".", 1)[1] for k in cpu if k.startswith("observe.")]
    return {n: (float(cpu[f"observe.{n}"]), float(t.get(n, t.get(f"{n}_after_pass", 0.0))), float(t.get(f"{n}.clip_encoder", 0.0)))
            for n in names}


CPU_COLUMNS = {
    "total": "total",
    "main": "main",
    "native": "mesh+ffmpeg",
    "decode_thread": "decode",
    "observe_thread": "observe",
    "embedding_worker": "embed",
    "after_pass": "after",
}


DERIVED_DIR = Path(tempfile.gettempdir()) / "telltale-bench"
"""Default folder of ``--height`` and ``--loop-minutes`` copies: kept between runs (made once), out
of the folder the user runs the command in."""


def _derived(files: list[str], out_dir: Path, name: str, make: Any) -> list[str]:
    """For each file, ``out_dir / name(file)`` made by ``make(file, dst)`` unless it exists."""
    out = []
    for f in files:
        dst = out_dir / name(Path(f))
        if not dst.exists():
            make(f, dst)
        out.append(str(dst))
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    files = list(args.media)
    out_dir = Path(args.loop_dir) if args.loop_dir else DERIVED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.height:
        files = _derived(files, out_dir, lambda p: f"{p.stem}_{args.height}p.mp4",
                         lambda f, dst: transcode(f, dst, args.height))
    if args.loop_minutes:
        files = _derived(files, out_dir, lambda p: f"{p.stem}_loop{args.loop_minutes:g}min{p.suffix}",
                         lambda f, dst: loop_clip(f, dst, args.loop_minutes))
    rows = []
    for f in files:
        if not Path(f).exists():
            rows.append({"path": f, "error": "file not found"})
            continue
        rows.append(_run_subprocess(f, args.set or []))
        print(format_table(rows[-1:]).splitlines()[1], file=sys.stderr) if sys.stderr.isatty() else None
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"files": rows}, indent=2) + "\n", encoding="utf-8")
        print(f"Results written to {args.json}")
    return 0 if any("error" not in r for r in rows) else 1


MAX_LOOP_MINUTES = 600.0
"""Longest loop bench makes (10 hours)."""
HEIGHT_RANGE = (16, 4320)
"""Heights bench re-encodes to (px; H.264 needs an even height)."""


def _loop_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not 0 < value <= MAX_LOOP_MINUTES:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_LOOP_MINUTES:g} minutes, got {text}")
    return value


def _height(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, got {text!r}") from None
    low, high = HEIGHT_RANGE
    if not low <= value <= high or value % 2:
        raise argparse.ArgumentTypeError(f"must be an even number from {low} to {high}, got {value}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="full analysis time against plain decoding, peak memory")
    p.add_argument("media", nargs="+", help="recordings to measure")
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    p.add_argument("--loop-minutes", type=_loop_minutes, metavar="N", help="measure an N-minute loop of each file instead")
    p.add_argument("--height", type=_height, metavar="H", help="measure a copy re-encoded to H px high (H.264, see TRANSCODE_OPTIONS) instead")
    p.add_argument("--loop-dir", metavar="DIR", help=f"where re-encoded and looped clips are written and reused (default: {DERIVED_DIR})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting")
    p.set_defaults(func=cmd_bench)


def _main_one(argv: list[str]) -> int:
    from .cli import _parse_settings, _quiet_native_logs

    _quiet_native_logs()
    parser = argparse.ArgumentParser(prog="python -m detectors.bench")
    parser.add_argument("--one", required=True)
    parser.add_argument("--set", action="append")
    a = parser.parse_args(argv)
    print(json.dumps(bench_one(a.one, _parse_settings(a.set or []))))
    return 0


if __name__ == "__main__":
    sys.exit(_main_one(sys.argv[1:]))
