"""Benchmark of the face-swap check.

Media:
  * ../shared/media/manifest.csv videos, labelled real / fake by their source;
  * classic FaceSwap fakes made here, labelled by construction: every frame of a real clip
    (first PASTE_SECONDS s) gets the face of another real clip (same moment, looped) rendered at
    reduced resolution, warped onto its Face Mesh landmarks, colour-matched and feather-blended
    (detectors.faceswap_signals.paste_face). Written to a temp dir (or --keep DIR).

Prints: per file risk / confidence / signal values, each signal's AUC (fake > real), the
combined check's AUC, whether any real clip is above risk 0.5, and time per analysed frame
(the check's own observe + analyze time, and the whole pass against plain decoding).

  * with --degraded, every clip above again at half size and x264 crf 32 (same label).

Usage: uv run python bench/faceswap_bench.py [--no-paste] [--keep DIR] [--only NAME] [--degraded]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402
from detectors import registry  # noqa: E402
from detectors.faces import new_face_mesh  # noqa: E402
from detectors.faceswap import FaceSwapDetector  # noqa: E402
from detectors.media import VideoFrame, VideoStream, decode_only  # noqa: E402
from detectors.pipeline import analyze_recording  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
PASTE_SECONDS = 6.0
MESH_WIDTH = 640
# (target clip <- source face, face render width px)
PASTE_PAIRS = (
    ("real_talking_01", "real_talking_02", 96),
    ("real_talking_02", "real_talking_01", 128),
    ("real_presenter", "real_talking_01", 128),
    ("real_news_519", "real_talking_02", 64),
    ("real_stage_speech", "real_presenter", 64),
)


def _mesh_points(mesh, rgb: np.ndarray) -> np.ndarray | None:
    h, w = rgb.shape[:2]
    k = min(1.0, MESH_WIDTH / w)
    small = cv2.resize(rgb, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    res = mesh.process(np.ascontiguousarray(small))
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    return np.array([(p.x * w, p.y * h) for p in lm], np.float32)


def _source_faces(path: Path, seconds: float) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per source frame: (face crop, landmarks in crop px) or None."""
    mesh = new_face_mesh(static=False, max_faces=1)
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    with VideoStream(path, analysis_fps=0, max_width=4096, with_audio=False) as vs:
        for item in vs:
            if not isinstance(item, VideoFrame):
                continue
            if item.t > seconds:
                break
            pts = _mesh_points(mesh, item.rgb)
            if pts is None:
                out.append(None)
                continue
            x0, y0 = pts.min(0) - 20
            x1, y1 = pts.max(0) + 20
            x0, y0 = max(0, int(x0)), max(0, int(y0))
            out.append((item.rgb[y0 : int(y1), x0 : int(x1)].copy(), pts - np.array([x0, y0], np.float32)))
    mesh.close()
    return out


def make_pasted_fake(target: Path, source: Path, render_px: int, out_path: Path, seconds: float = PASTE_SECONDS) -> Path:
    src = _source_faces(source, seconds)
    mesh = new_face_mesh(static=False, max_faces=1)
    with VideoStream(target, analysis_fps=0, max_width=4096, with_audio=False) as vs, av.open(str(out_path), "w") as out:
        fps = Fraction(vs.info.fps).limit_denominator(1001)
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = vs.info.width // 2 * 2, vs.info.height // 2 * 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        n = 0
        for item in vs:
            if not isinstance(item, VideoFrame):
                continue
            if item.t > seconds:
                break
            rgb = item.rgb[: stream.height, : stream.width]
            pts = _mesh_points(mesh, rgb)
            face = src[n % len(src)] if src else None
            if pts is not None and face is not None:
                rgb = S.paste_face(face[0], face[1], rgb, pts, render_px=render_px)
            n += 1
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    mesh.close()
    return out_path


DEGRADE_SCALE = 0.5
DEGRADE_CRF = 32
DEGRADE_SECONDS = 8.0


def make_degraded(path: Path, out_path: Path) -> Path:
    """The clip at half size and a low bitrate (x264 crf 32), first DEGRADE_SECONDS s: the same
    label as its source (robustness to the compression of public and video-call media)."""
    with VideoStream(path, analysis_fps=0, max_width=4096, with_audio=False) as vs, av.open(str(out_path), "w") as out:
        fps = Fraction(vs.info.fps).limit_denominator(1001)
        stream = out.add_stream("libx264", rate=fps)
        w = int(vs.info.width * DEGRADE_SCALE) // 2 * 2
        h = int(vs.info.height * DEGRADE_SCALE) // 2 * 2
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(DEGRADE_CRF), "preset": "veryfast"}
        for item in vs:
            if not isinstance(item, VideoFrame):
                continue
            if item.t > DEGRADE_SECONDS:
                break
            small = cv2.resize(item.rgb, (w, h), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(small), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return out_path


def media_list(paste_dir: Path | None, only: str | None, degraded: bool = False) -> list[tuple[str, str, Path]]:
    items = []
    with (MEDIA / "manifest.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "video":
                items.append((Path(row["path"]).stem, row["label"], MEDIA / row["path"]))
    if paste_dir is not None:
        for tgt, src, px in PASTE_PAIRS:
            out = paste_dir / f"paste_{tgt}_from_{src}_{px}.mp4"
            if not out.exists():
                t0 = time.time()
                make_pasted_fake(MEDIA / "video" / f"{tgt}.mp4", MEDIA / "video" / f"{src}.mp4", px, out)
                print(f"made {out.name} in {time.time() - t0:.0f} s", flush=True)
            items.append((out.stem, "fake", out))
    if degraded and paste_dir is not None:
        for name, label, path in list(items):
            out = paste_dir / f"lowq_{name}.mp4"
            if not out.exists():
                make_degraded(path, out)
            items.append((out.stem, label, out))
    if only:
        items = [i for i in items if only in i[0]]
    return items


SIGNALS = ("blend", "face_vs_frame_noise", "blink", "landmark_jitter", "pose_disagreement", "identity_flicker", "pulse_coherence")
# direction: +1 when a higher value means fake
DIRECTION = {"blend": 1, "face_vs_frame_noise": -1, "blink": -1, "landmark_jitter": 1, "pose_disagreement": 1,
             "identity_flicker": 1, "pulse_coherence": -1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-paste", action="store_true", help="only the shared media")
    ap.add_argument("--keep", help="folder for the pasted fakes (kept between runs)")
    ap.add_argument("--only", help="only files whose name contains this")
    ap.add_argument("--json", help="write per-file results here")
    ap.add_argument("--degraded", action="store_true", help="also every clip at half size, x264 crf 32 (same label)")
    args = ap.parse_args()
    if not (MEDIA / "manifest.csv").exists():
        sys.exit(f"{MEDIA} absent")
    registry.recording_detectors = lambda: [FaceSwapDetector]  # time this check alone
    tmp = None
    paste_dir = None
    if not args.no_paste:
        if args.keep:
            paste_dir = Path(args.keep)
            paste_dir.mkdir(parents=True, exist_ok=True)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="faceswap_bench_")
            paste_dir = Path(tmp.name)
    rows = []
    if args.degraded and paste_dir is None:
        sys.exit("--degraded needs the pasted-fakes folder (drop --no-paste)")
    for name, label, path in media_list(paste_dir, args.only, args.degraded):
        t0 = time.perf_counter()
        decode_only(path)
        t_decode = time.perf_counter() - t0
        res = analyze_recording(path)
        f = res.findings.get("faceswap")
        n = res.track.frames_analysed if res.track is not None else 0
        sig = f.evidence.get("signals", {}) if f else {}
        rows.append({
            "name": name, "label": label, "risk": f.risk if f else float("nan"), "confidence": f.confidence if f else 0.0,
            "values": {k: (sig.get(k, {}).get("value")) for k in SIGNALS},
            "frames": n, "faces": res.track.frames_with_face if res.track is not None else 0,
            "ms_check_per_frame": 1000 * (res.timings_s.get("observe", 0) + res.timings_s.get("faceswap", 0)) / max(1, n),
            "pass_over_decode": res.timings_s.get("pass", 0) / max(1e-6, t_decode),
            "check_over_decode": (res.timings_s.get("observe", 0) + res.timings_s.get("faceswap", 0)) / max(1e-6, t_decode),
            "segments": f.evidence.get("high_risk_segments", []) if f else [],
            "summary": f.summary if f else "",
        })
        r = rows[-1]
        print(f"{name:52s} {label:4s} risk {r['risk']:.3f} conf {r['confidence']:.2f} faces {r['faces']:4d}/{n:4d} "
              f"{r['ms_check_per_frame']:5.1f} ms/frame  pass/decode {r['pass_over_decode']:4.1f}  "
              + " ".join(f"{k[:6]}={v:.3f}" if isinstance(v, (int, float)) and v is not None and np.isfinite(v) else f"{k[:6]}=nan"
                         for k, v in r["values"].items()), flush=True)

    def table(subset: list[dict], title: str) -> None:
        fake = [r for r in subset if r["label"] == "fake"]
        real = [r for r in subset if r["label"] == "real"]
        print(f"\n{title}: {len(fake)} fake, {len(real)} real")
        print(f"{'signal':22s} AUC")
        for k in SIGNALS:
            def v(r: dict) -> float:
                x = r["values"].get(k)
                return DIRECTION[k] * x if isinstance(x, (int, float)) and x is not None and np.isfinite(x) else float("nan")
            print(f"{k:22s} {S.auc([v(r) for r in fake], [v(r) for r in real]):.3f}")
        print(f"{'combined risk':22s} {S.auc([r['risk'] for r in fake], [r['risk'] for r in real]):.3f}")
        worst = max((r["risk"] for r in real), default=float("nan"))
        print(f"max real risk {worst:.3f} ({'OK' if worst <= 0.5 else 'ABOVE 0.5'}); "
              f"fakes caught at 0.5: {sum(r['risk'] > 0.5 for r in fake)}/{len(fake)}")

    table([r for r in rows if not r["name"].startswith(("paste_", "lowq_"))], "shared media")
    if any(r["name"].startswith("paste_") for r in rows):
        table([r for r in rows if not r["name"].startswith("lowq_")], "shared media + pasted fakes")
    if any(r["name"].startswith("lowq_") for r in rows):
        table([r for r in rows if r["name"].startswith("lowq_")], "all of them at half size, crf 32")
    ms = [r["ms_check_per_frame"] for r in rows]
    print(f"\ncheck time per analysed frame: mean {np.mean(ms):.1f} ms, max {np.max(ms):.1f} ms; "
          f"this check's time / plain decode: mean {np.mean([r['check_over_decode'] for r in rows]):.2f}x; "
          f"whole pass (face tracking included) / plain decode: mean {np.mean([r['pass_over_decode'] for r in rows]):.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
