"""Probe: what a DeepFaceLive swap changes in the frame, and per-recording cues grounded in how it renders.

Runs in the app's venv (PyAV, mediapipe Face Mesh, face_recognition). Modes, each writing under
``out/faceswap_probe/`` (git-ignored):

* ``pairs``: the DeepFaceLive pairs of ``manifest_more.csv`` (each swap and its own real input:
  same frames, same compression), decoded in lockstep; on SAMPLE_EVERY_S-spaced frames of the first
  MAX_SECONDS s: face width (px), dlib identity distance real vs swap (same box), where the absolute
  pixel difference lies (inner face, just inside the hull edge, just outside it, farther out), and
  the per-frame cues below for both halves. ``pairs.json``; ``pairs-report`` prints the summary.
* ``cues``: every labelled video of ``out/faceswap_net/files.json`` (training/faceswap_crops.py):
  the grey-level cues (:func:`frame_cues`, at source resolution and with the face shrunk to at most
  100 px, ``n_`` prefix) on the same sampled frames. ``cues.json``.
* ``chroma``: the Lab chroma cues (:func:`chroma_cues`) on the same frames. ``chroma.json``.
* ``flicker-pairs`` / ``flicker``: change between two frames 1/15 s apart (:func:`flicker_cues`),
  each aligned on its own landmarks, inside the face against the ring around it.

Grey-level cues (grey levels at source resolution in the face box grown by half its size on each
side, regions by signed distance to the Face Mesh oval hull in face widths): noise level (median
|fine band|) and fine/mid band fall-off inside the face against the ring just outside the hull and
the farther surroundings, Laplacian ratio, mid-band seam strength just inside the hull edge.

Measured (2 Dec 2026, 37 pairs, frames 1 s apart in the first 20 s; medians over frames, then pairs):
the frames are small (260-564 x 246-382 px: halves of side-by-side demo videos), the face 125 px
wide (63-166). The swap changes identity (dlib distance real vs swap 0.74, 0.54-0.86) and its
pixel change lies in the face: mean |swap - real| 12.7 grey levels inside the face, 8.7 just inside
the hull edge, 4.0 just outside it, 1.5 farther out (the compression floor). Two pairs are not what
they say for a one-face check: Nicola_Badge_2's halves are the left and right halves of one
ordinary frame (difference 70-86 everywhere; its swap half yields no crops), and Tim_Chrys_2 shows
two people with the swap on the second, smaller face: the main face is unchanged (identity distance
0.09, inner difference 2.1). Swap minus real (share of pairs where the swap is higher; effect in
units of the spread of the real halves across recordings): mid-band seam just inside the edge
-0.08 (22%, -0.33 sd), fine/mid fall-off inside vs ring -0.03 (30%, -0.20), Laplacian inside vs
outer -0.08 (27%, -0.20), noise inside vs ring +0.03 (57%, +0.11); temporal spreads of all cues
within +-0.2 sd; flicker between frames 1/15 s apart: no pair difference (the median change is 0 in
most frames: the codec repeats blocks); Lab b-channel spread inside vs ring -0.21 (25%, -0.57 sd),
b-channel seam -0.04 (25%, -0.42). So the swap's low-level statistics stay within the spread real
recordings show between themselves; the largest within-pair effect, the flatter b-chroma of the
rendered face, is about half of that spread. Per-recording evaluation: training/probe_faceswap_stack.py.

Usage: uv run python training/probe_faceswap_dfl.py --mode pairs|pairs-report|cues|chroma|flicker-pairs|flicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "out" / "faceswap_probe"
SAMPLE_EVERY_S = 1.0
MAX_SECONDS = 20.0
MESH_PX = 640
MARGIN = 0.5
INNER_DN = 0.12
EDGE_DN = (0.0, 0.08)
RING_DN = (-0.15, -0.02)
OUTER_DN = -0.25
EPS = 1e-3


def _mesh():
    from detectors.faces import new_face_mesh

    return new_face_mesh(static=True, max_faces=1)


def landmarks(mesh: Any, rgb: np.ndarray) -> np.ndarray | None:
    h, w = rgb.shape[:2]
    k = min(1.0, MESH_PX / max(h, w))
    small = cv2.resize(rgb, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    res = mesh.process(np.ascontiguousarray(small))
    if not res.multi_face_landmarks:
        return None
    return np.array([(p.x * w, p.y * h) for p in res.multi_face_landmarks[0].landmark], np.float32)


def face_box(lm: np.ndarray, shape: tuple[int, int], margin: float = MARGIN) -> tuple[int, int, int, int]:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    mw, mh = (x1 - x0) * margin, (y1 - y0) * margin
    h, w = shape
    return int(max(0, x0 - mw)), int(max(0, y0 - mh)), int(min(w, x1 + mw)), int(min(h, y1 + mh))


def regions(shape: tuple[int, int], lm: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
    oval = lm[list(S.FACE_OVAL)]
    width = float(np.ptp(oval[:, 0]))
    mask = S.hull_mask(shape, oval)
    dn = S.signed_distance(mask) / max(width, 1.0)
    return {
        "inner": dn > INNER_DN,
        "edge": (dn > EDGE_DN[0]) & (dn < EDGE_DN[1]),
        "ring": (dn > RING_DN[0]) & (dn < RING_DN[1]),
        "outer": dn < OUTER_DN,
    }, width


def bands(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g1 = cv2.GaussianBlur(gray, (0, 0), 0.7)
    g2 = cv2.GaussianBlur(gray, (0, 0), 1.4)
    g3 = cv2.GaussianBlur(gray, (0, 0), 2.8)
    return np.abs(gray - g1), np.abs(g1 - g2), np.abs(g2 - g3)


def frame_cues(gray: np.ndarray, lm: np.ndarray) -> dict[str, float]:
    """Per-frame cues on a grey crop (float32) with the face's landmarks in its px."""
    reg, width = regions(gray.shape, lm)
    if min(int(reg[k].sum()) for k in reg) < 30:
        return {}
    b1, b2, b3 = bands(gray)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    m = {k: {"b1": float(np.median(b1[v])) + EPS, "b2": float(np.median(b2[v])) + EPS,
             "b3": float(np.median(b3[v])) + EPS, "lap": float(lap[v].var()) + EPS} for k, v in reg.items()}
    L = np.log
    out = {
        "width": width,
        "noise_in_ring": L(m["inner"]["b1"] / m["ring"]["b1"]),
        "noise_in_outer": L(m["inner"]["b1"] / m["outer"]["b1"]),
        "mid_in_ring": L(m["inner"]["b2"] / m["ring"]["b2"]),
        "coarse_in_ring": L(m["inner"]["b3"] / m["ring"]["b3"]),
        "slope_in_ring": L(m["inner"]["b1"] / m["inner"]["b2"]) - L(m["ring"]["b1"] / m["ring"]["b2"]),
        "slope_in_outer": L(m["inner"]["b1"] / m["inner"]["b2"]) - L(m["outer"]["b1"] / m["outer"]["b2"]),
        "slope2_in_ring": L(m["inner"]["b2"] / m["inner"]["b3"]) - L(m["ring"]["b2"] / m["ring"]["b3"]),
        "lap_in_ring": 0.5 * L(m["inner"]["lap"] / m["ring"]["lap"]),
        "lap_in_outer": 0.5 * L(m["inner"]["lap"] / m["outer"]["lap"]),
        "seam_b1": L(m["edge"]["b1"]) - 0.5 * (L(m["inner"]["b1"]) + L(m["ring"]["b1"])),
        "seam_b2": L(m["edge"]["b2"]) - 0.5 * (L(m["inner"]["b2"]) + L(m["ring"]["b2"])),
        "abs_noise_in": L(m["inner"]["b1"]),
    }
    return out


def chroma_cues(rgb: np.ndarray, lm: np.ndarray) -> dict[str, float]:
    """Colour cues on an RGB crop: per Lab chroma channel (a, b), the spread inside the face against
    the ring just outside the hull, the fine/mid-band chroma noise inside against the ring, and the
    mid-band chroma seam just inside the hull edge. DeepFaceLive's colour transfer matches the
    rendered face's colour statistics to the frame's face as a whole; a rendered face's own chroma
    texture may still be flatter than its surroundings."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    reg, _ = regions(lab.shape[:2], lm)
    if min(int(reg[k].sum()) for k in reg) < 30:
        return {}
    out = {}
    for ch, name in ((1, "a"), (2, "b")):
        x = lab[..., ch]
        b1, b2, _ = bands(x)
        m = {k: (float(np.median(b1[v])) + EPS, float(np.median(b2[v])) + EPS, float(x[v].std()) + EPS) for k, v in reg.items()}
        out[f"{name}_sd_in_ring"] = float(np.log(m["inner"][2] / m["ring"][2]))
        out[f"{name}_sd_in_outer"] = float(np.log(m["inner"][2] / m["outer"][2]))
        out[f"{name}_noise_in_ring"] = float(np.log(m["inner"][0] / m["ring"][0]))
        out[f"{name}_mid_in_ring"] = float(np.log(m["inner"][1] / m["ring"][1]))
        out[f"{name}_seam"] = float(np.log(m["edge"][1]) - 0.5 * (np.log(m["inner"][1]) + np.log(m["ring"][1])))
    return out


def face_crops(path: Path, mesh: Any):
    """(t, RGB crop of the face box, landmarks in the crop) of the sampled frames with a face."""
    for t, rgb in sampled_frames(path):
        lm = landmarks(mesh, rgb)
        if lm is None:
            continue
        x0, y0, x1, y1 = face_box(lm, rgb.shape[:2])
        yield t, np.ascontiguousarray(rgb[y0:y1, x0:x1]), lm - np.array([x0, y0], np.float32)


def chroma_for(path: Path, mesh: Any) -> list[dict[str, float]]:
    rows = []
    for t, crop, lmc in face_crops(path, mesh):
        c = chroma_cues(crop, lmc)
        if c:
            c["t"] = t
            rows.append(c)
    return rows


def norm_cues(gray: np.ndarray, lm: np.ndarray, face_px: float = 100.0) -> dict[str, float]:
    """The same cues with the crop shrunk so the face is at most ``face_px`` wide (never enlarged)."""
    width = float(np.ptp(lm[list(S.FACE_OVAL), 0]))
    k = min(1.0, face_px / max(width, 1.0))
    if k < 1.0:
        h, w = gray.shape
        gray = cv2.resize(gray, (max(8, int(w * k)), max(8, int(h * k))), interpolation=cv2.INTER_AREA)
        lm = lm * k
    return {f"n_{a}": b for a, b in frame_cues(gray, lm).items() if a != "width"}


def sampled_frames(path: Path):
    """(t, rgb) of the frames nearest SAMPLE_EVERY_S steps in the first MAX_SECONDS s."""
    with av.open(str(path), metadata_errors="ignore") as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        nxt = 0.5 * SAMPLE_EVERY_S
        for fr in c.decode(st):
            t = float(fr.time or 0.0)
            if t > MAX_SECONDS:
                break
            if t + 1e-6 >= nxt:
                nxt += SAMPLE_EVERY_S
                yield t, fr.to_ndarray(format="rgb24")


def cues_for(path: Path, mesh: Any) -> list[dict[str, float]]:
    rows = []
    for t, crop, lmc in face_crops(path, mesh):
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
        c = frame_cues(gray, lmc)
        if not c:
            continue
        c.update(norm_cues(gray, lmc))
        c["t"] = t
        rows.append(c)
    return rows


def pair_rows(real: Path, swap: Path, mesh: Any) -> list[dict[str, Any]]:
    from detectors.faces import embed_face

    rows = []
    for (t, r), (_, s) in zip(sampled_frames(real), sampled_frames(swap)):
        if r.shape != s.shape:
            s = cv2.resize(s, (r.shape[1], r.shape[0]))
        lm = landmarks(mesh, r)
        if lm is None:
            continue
        lm_s = landmarks(mesh, s)
        x0, y0, x1, y1 = face_box(lm, r.shape[:2])
        fb = face_box(lm, r.shape[:2], margin=0.0)
        er, es = embed_face(r, fb), embed_face(s, fb)
        gr = cv2.cvtColor(r[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        gs = cv2.cvtColor(s[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        lmc = lm - np.array([x0, y0], np.float32)
        reg, width = regions(gr.shape, lmc)
        d = np.abs(gs - gr)
        whole_d = float(np.abs(cv2.cvtColor(s, cv2.COLOR_RGB2GRAY).astype(np.float32) - cv2.cvtColor(r, cv2.COLOR_RGB2GRAY).astype(np.float32)).mean())
        row: dict[str, Any] = {
            "t": t, "width": width, "frame_h": r.shape[0], "frame_w": r.shape[1],
            "id_dist": float(np.linalg.norm(er - es)) if er is not None and es is not None else None,
            "diff": {k: float(d[v].mean()) if v.any() else None for k, v in reg.items()},
            "diff_whole_frame": whole_d,
            "mesh_shift": float(np.median(np.linalg.norm(lm_s - lm, axis=1)) / max(width, 1.0)) if lm_s is not None else None,
            "real": frame_cues(gr, lmc), "swap": frame_cues(gs, lmc),
        }
        # the same cues with the swap's own landmarks (what the detector would see)
        if lm_s is not None:
            xs0, ys0, xs1, ys1 = face_box(lm_s, s.shape[:2])
            g2 = cv2.cvtColor(s[ys0:ys1, xs0:xs1], cv2.COLOR_RGB2GRAY).astype(np.float32)
            row["swap_own"] = frame_cues(g2, lm_s - np.array([xs0, ys0], np.float32))
        rows.append(row)
    return rows


def pairs_report() -> None:
    """The summary of ``pairs.json`` quoted in the docstring."""
    d = {p: fr for p, fr in json.loads((OUT / "pairs.json").read_text()).items() if fr}
    print(f"{'pair':34s} {'frame':>9s} {'face':>5s} {'id':>5s} {'inner':>6s} {'edge':>6s} {'ring':>6s} {'outer':>6s}")
    for p, fr in d.items():
        med = lambda k: float(np.median([f["diff"][k] for f in fr if f["diff"][k] is not None]))  # noqa: E731
        ids = [f["id_dist"] for f in fr if f["id_dist"] is not None]
        print(f"{Path(p).stem:34s} {fr[0]['frame_w']:4d}x{fr[0]['frame_h']:<4d} {np.median([f['width'] for f in fr]):5.0f} "
              f"{np.median(ids) if ids else float('nan'):5.2f} {med('inner'):6.1f} {med('edge'):6.1f} {med('ring'):6.1f} {med('outer'):6.1f}")
    keys = [k for k in next(iter(d.values()))[0]["real"] if k != "width"]
    print("cue: swap - real (median over frames, then pairs), share of pairs > 0, effect / spread of the real halves")
    for k in keys:
        dl = np.array([np.median([f["swap"][k] - f["real"][k] for f in fr if f["real"] and f["swap"]]) for fr in d.values()])
        rv = np.array([np.median([f["real"][k] for f in fr if f["real"]]) for fr in d.values()])
        print(f"{k:16s} {np.median(dl):+.3f} {np.mean(dl > 0):.2f} {np.median(dl) / np.std(rv):+.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("pairs", "pairs-report", "cues", "flicker-pairs", "flicker", "chroma"), required=True)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.mode == "pairs-report":
        pairs_report()
        return
    cv2.setNumThreads(1)
    mesh = _mesh()
    t0 = time.time()
    if args.mode == "pairs":
        import csv

        with (MEDIA / "manifest_more.csv").open() as fh:
            paths = [r["path"] for r in csv.DictReader(fh) if r["path"].endswith("_swap.mp4") and "/dfl/" in r["path"]]
        out = {}
        for p in paths:
            rp = p.replace("_swap.mp4", "_real.mp4")
            out[p] = pair_rows(MEDIA / rp, MEDIA / p, mesh)
            print(f"{p}: {len(out[p])} frames ({time.time() - t0:.0f} s)", flush=True)
        (OUT / "pairs.json").write_text(json.dumps(out))
    else:
        files = json.loads((ROOT / "out" / "faceswap_net" / "files.json").read_text())
        dest = OUT / "cues.json"
        out = json.loads(dest.read_text()) if dest.exists() else {}
        for f in files:
            if f["kind"] != "video" or f["path"] in out:
                continue
            try:
                out[f["path"]] = cues_for(MEDIA / f["path"], mesh)
            except Exception as exc:  # one bad file must not stop the probe
                print(f"{f['path']}: {exc}", flush=True)
                out[f["path"]] = []
            print(f"{f['path']}: {len(out[f['path']])} frames ({time.time() - t0:.0f} s)", flush=True)
            if len(out) % 20 == 0:
                dest.write_text(json.dumps(out))
        dest.write_text(json.dumps(out))




# --------------------------------------------------------------------------- temporal flicker (added probe)

FLICKER_DT = 1.0 / 15.0
"""Two frames this far apart (the detector's analysis rate) make one flicker measurement."""
FLICKER_PX = 160


def frame_pairs(path: Path):
    """(t, rgb_t, rgb_t+dt) at SAMPLE_EVERY_S steps in the first MAX_SECONDS s."""
    with av.open(str(path), metadata_errors="ignore") as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        nxt, first = 0.5 * SAMPLE_EVERY_S, None
        for fr in c.decode(st):
            t = float(fr.time or 0.0)
            if t > MAX_SECONDS:
                break
            if first is None and t + 1e-6 >= nxt:
                first = (t, fr.to_ndarray(format="rgb24"))
            elif first is not None and t + 1e-6 >= first[0] + FLICKER_DT:
                yield first[0], first[1], fr.to_ndarray(format="rgb24")
                nxt, first = first[0] + SAMPLE_EVERY_S, None


def flicker_cues(a: np.ndarray, b: np.ndarray, lma: np.ndarray, lmb: np.ndarray) -> dict[str, float]:
    """Change between two aligned crops (each on its own landmarks) inside the face vs the ring
    around it; rigid head motion is removed by the alignment, what stays is expression, noise and
    re-rendering flicker."""
    ca, m = S.aligned_crop(a, lma, FLICKER_PX)
    cb, _ = S.aligned_crop(b, lmb, FLICKER_PX)
    ga = cv2.cvtColor(ca, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gb = cv2.cvtColor(cb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    reg, _ = regions(ga.shape, S.transform_points(m, lma))
    d = np.abs(gb - ga)
    fa, fb = bands(ga)[0], bands(gb)[0]
    dh = np.abs(fb - fa)  # fine-band change (texture shimmer)
    dl = np.abs(cv2.GaussianBlur(gb, (0, 0), 2.0) - cv2.GaussianBlur(ga, (0, 0), 2.0))  # low-pass change (shading/colour)
    L = np.log
    md = {k: float(np.median(d[v])) + 0.1 for k, v in reg.items()}
    mh = {k: float(np.median(dh[v])) + 0.1 for k, v in reg.items()}
    ml = {k: float(np.median(dl[v])) + 0.1 for k, v in reg.items()}
    return {"flk_in_ring": L(md["inner"] / md["ring"]), "flk_in_outer": L(md["inner"] / md["outer"]),
            "flkh_in_ring": L(mh["inner"] / mh["ring"]), "flkh_in_outer": L(mh["inner"] / mh["outer"]),
            "flkl_in_ring": L(ml["inner"] / ml["ring"]), "flk_edge": L(md["edge"]) - 0.5 * (L(md["inner"]) + L(md["ring"])),
            "flk_in": L(md["inner"])}


def flicker_for(path: Path, mesh: Any) -> list[dict[str, float]]:
    rows = []
    for t, a, b in frame_pairs(path):
        la, lb = landmarks(mesh, a), landmarks(mesh, b)
        if la is None or lb is None:
            continue
        c = flicker_cues(a, b, la, lb)
        c["t"] = t
        rows.append(c)
    return rows


def flicker_main(mode: str) -> None:
    mesh = _mesh()
    t0 = time.time()
    if mode == "flicker-pairs":
        import csv

        with (MEDIA / "manifest_more.csv").open() as fh:
            paths = [r["path"] for r in csv.DictReader(fh) if r["path"].endswith("_swap.mp4") and "/dfl/" in r["path"]]
        out = {}
        for p in paths:
            for q in (p, p.replace("_swap.mp4", "_real.mp4")):
                out[q] = flicker_for(MEDIA / q, mesh)
            print(f"{p}: {len(out[p])} ({time.time() - t0:.0f} s)", flush=True)
        (OUT / "flicker_pairs.json").write_text(json.dumps(out))
    else:
        files = json.loads((ROOT / "out" / "faceswap_net" / "files.json").read_text())
        dest = OUT / ("chroma.json" if mode == "chroma" else "flicker.json")
        out = json.loads(dest.read_text()) if dest.exists() else {}
        for f in files:
            if f["kind"] != "video" or f["path"] in out:
                continue
            try:
                out[f["path"]] = (chroma_for if mode == "chroma" else flicker_for)(MEDIA / f["path"], mesh)
            except Exception as exc:  # one bad file must not stop the probe
                print(f"{f['path']}: {exc}", flush=True)
                out[f["path"]] = []
            print(f"{f['path']}: {len(out[f['path']])} ({time.time() - t0:.0f} s)", flush=True)
        dest.write_text(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) > 2 and (sys.argv[2].startswith("flicker") or sys.argv[2] == "chroma"):
        flicker_main(sys.argv[2])
    else:
        main()
