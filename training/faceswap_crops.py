"""Step 1 of the face-swap model's recipe: aligned face crops and the augmented training pool.

Runs in the app's venv (it reads media with the engine's own PyAV stream and Face Mesh track, and
compresses with libx264 through PyAV); step 2, ``training/train_faceswap_net.py``, trains in the
training venv from what this writes under ``out/faceswap_net/`` (git-ignored):

* ``crops/<file id>.npz`` per labelled file: the main face of every CROP_EVERY-th analysed frame
  (15 fps, the first MAX_SECONDS s), taken exactly as the detector takes it at run time
  (:meth:`VideoFrame.crop_full` with ``NET_CROP_MARGIN``, then
  :func:`detectors.faceswap_signals.aligned_crop` to ``NET_PX``), the same face aligned at
  WIDE_PX (the run-time crop of the 160 px resolution probe, ``--net-px 160``), and at BIG_PX
  with its Face Mesh points (for self-blending and scale augmentation), the hand-made blend
  model's probability on the frame, and the recording's blink count (for the signal comparison);
* ``files.json``: every file with label, family, group and grouped fold
  (``detectors.folds.fold_of(group_key(group, source, path))``);
* ``pool<v>.npz`` (v = 0..VARIANTS-1): the training samples from POOL_CROPS_PER_FILE crops of each
  file, each a NET_PX crop:
  real faces (label 0) after a random degradation, the same faces self-blended
  (:func:`detectors.faceswap_signals.self_blend`, Shiohara & Yamasaki 2022; label 1) after a
  random degradation, and the dev fakes' faces (label 1) after a random degradation. Degradation
  = scale (the BIG_PX crop shrunk to MIN_SCALE_PX..BIG_PX), then one H.264 intra frame at crf
  CRF_RANGE, or JPEG at JPEG_RANGE, or nothing, then resized to NET_PX: a face that arrives
  small and through meeting-software compression. With ``--net-px 160``, ``poolw160_<v>.npz``
  holds the same samples (same random draws) resized to WIDE_PX instead of NET_PX.

Files used: every video of ``manifest.csv`` and ``manifest_more.csv`` labelled real, or fake by
face swap (DeepFaceLive, GHOST, FaceForensics++, DFDC) or generated talking head (VASA-1,
SadTalker); lip-sync fakes (the mouth of a real face re-synthesised) are another check's job and
are crop-extracted for the report only, never trained on. Real photos of ``manifest_photos.csv``
(FFHQ, CelebA-HQ, London, Canada, ID portraits: more real identities) join the real faces;
generated photos do not (a whole generated face has no blend seam and is the ID-photo check's).

Everything is seeded per file (a hash of its path), so the pool is the same on every run.

Measured on a 2-core machine shared with other jobs: crops of the 302 files 8.6 min (2 workers),
each pool well under a minute.

Usage: uv run python training/faceswap_crops.py [--workers 2] [--force] [--net-px 96|160]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402
from detectors.evaluation.manifests import corrected  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402

log = logging.getLogger("faceswap_crops")

MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "out" / "faceswap_net"
MANIFESTS = ("manifest.csv", "manifest_more.csv")
PHOTO_MANIFEST = "manifest_photos.csv"
REAL_PHOTO_GROUPS = ("ffhq", "celebahq", "london", "canada", "idportrait")

ANALYSIS_FPS = 15.0
"""The detector's analysis rate (pipeline default)."""
CROP_EVERY = 3
"""Every this many analysed frames with a face, one crop (5 a second)."""
MAX_SECONDS = 20.0
MAX_CROPS = 60
"""At most this many crops a file, evenly spread."""
BIG_PX = 192
WIDE_PX = 160
"""Side of the wider/sharper aligned crop for the resolution probe (``--net-px 160``): the same
framing as NET_PX (face about the middle half), at 160 px the face is about 80 px wide."""
MIN_SCALE_PX = 56
CRF_RANGE = (20, 38)
JPEG_RANGE = (40, 95)
H264_P, JPEG_P = 0.5, 0.3  # else no compression
VARIANTS = 2
POOL_CROPS_PER_FILE = 20
"""Crops of a file that enter a pool (evenly spread): many files beat many frames of one file,
and the training runs on a shared 2-core machine."""
MIN_FACE_PX = 40
"""Faces narrower than this (source px) are skipped (the detector skips them too)."""


def family_of(row: dict[str, str]) -> str:
    """The family a labelled file is reported under."""
    path, man = row["path"], row.get("manipulation", "")
    if row["label"] == "real":
        return "real"
    if man.startswith("lipsync"):
        return "lipsync"
    if "DeepFaceLive" in man:
        return "DeepFaceLive"
    if "GHOST" in man:
        return "GHOST"
    if "FaceForensics" in man or "DFDC" in man:
        return "FaceForensics/DFDC"
    if man.startswith("talking-head"):
        return "talking-head"
    if man.startswith("faceswap"):
        return "faceswap-other"
    return "other:" + path


def file_id(path: str) -> str:
    return hashlib.sha1(path.encode()).hexdigest()[:12]


def seed_of(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")


def list_files() -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in MANIFESTS:
        with (MEDIA / name).open() as fh:
            for given in csv.DictReader(fh):
                row, _ = corrected(given)
                if row["kind"] != "video" or row["path"] in seen:
                    continue
                seen.add(row["path"])
                fam = family_of(row)
                g = group_key(row.get("group"), row.get("source"), row["path"])
                files.append({"path": row["path"], "kind": "video", "label": row["label"], "family": fam,
                              "group": g, "fold": fold_of(g), "train": fam != "lipsync" and not fam.startswith("other"),
                              "id": file_id(row["path"])})
    with (MEDIA / PHOTO_MANIFEST).open() as fh:
        for row in csv.DictReader(fh):
            if row["label"] != "real" or row["group"] not in REAL_PHOTO_GROUPS:
                continue
            g = group_key(row.get("group"), row.get("source"), row["path"])
            files.append({"path": row["path"], "kind": "image", "label": "real", "family": "real-photo",
                          "group": g, "fold": fold_of(g), "train": True, "id": file_id(row["path"])})
    return files


# --------------------------------------------------------------------------- crops


def _crops_from(rgb: np.ndarray, lm: np.ndarray, blend_model: Any) -> dict[str, Any] | None:
    """Both aligned crops and the blend probability for one face (``lm`` in ``rgb`` px)."""
    oval = lm[list(S.FACE_OVAL)]
    if np.ptp(oval[:, 0]) < MIN_FACE_PX:
        return None
    net, _ = S.aligned_crop(rgb, lm, S.NET_PX)
    big, m = S.aligned_crop(rgb, lm, BIG_PX)
    wide, _ = S.aligned_crop(rgb, lm, WIDE_PX)
    blend = float("nan")
    if blend_model is not None and np.ptp(oval[:, 0]) >= S.MIN_TEXTURE_FACE_PX:
        fc = S.normalise_crop(rgb, lm)
        blend = float(blend_model.predict(S.boundary_features(fc))[0])
    return {"net": net, "wide": wide, "big": big, "lm": S.transform_points(m, lm).astype(np.float16), "blend": blend}


def extract_video(path: Path) -> dict[str, np.ndarray]:
    from detectors.faces import FaceTracker
    from detectors.media import VideoFrame, VideoStream

    model = S.load_model()
    items: list[dict[str, Any]] = []
    times: list[float] = []
    with VideoStream(path, analysis_fps=ANALYSIS_FPS, with_audio=False) as vs:
        tracker = FaceTracker(str(path), vs.info.fps, ANALYSIS_FPS, vs.info.duration_s)
        tracker.embed_interval = 1e12
        tracker._next_embed_t = 1e12  # no embeddings: not needed here
        n_face = 0
        try:  # finish() closes the tracker; close it here only when the pass fails
            for item in vs:
                if not isinstance(item, VideoFrame):
                    continue
                if item.t > MAX_SECONDS:
                    break
                obs = tracker.add(item)
                if obs is None:
                    continue
                n_face += 1
                if (n_face - 1) % CROP_EVERY:
                    continue
                crop, sbox = item.crop_full(obs.box, margin=S.NET_CROP_MARGIN)
                if crop.shape[0] < 16 or crop.shape[1] < 16:
                    continue
                scale = item.scale if item._source is not None else 1.0
                lm = obs.landmarks[:, :2] / scale - np.array(sbox[:2], np.float32)
                got = _crops_from(crop, lm, model)
                if got is not None:
                    items.append(got)
                    times.append(item.t)
        except BaseException:
            tracker.close()
            raise
        track = tracker.finish()
    rate, blinks, seconds = S.blink_rate(track.landmarks, track.present, track.times)
    return _pack(items, times, blinks=blinks, blink_seconds=seconds)


def extract_image(path: Path) -> dict[str, np.ndarray]:
    from detectors.faces import new_face_mesh
    from detectors.media import load_image

    rgb = load_image(path).rgb
    h, w = rgb.shape[:2]
    k = min(1.0, 640 / max(h, w))
    small = cv2.resize(rgb, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    mesh = new_face_mesh(static=True, max_faces=1)
    try:
        res = mesh.process(np.ascontiguousarray(small))
    finally:
        mesh.close()
    items = []
    for lmk in (res.multi_face_landmarks or [])[:1]:
        lm = np.array([(p.x * w, p.y * h) for p in lmk.landmark], np.float32)
        got = _crops_from(rgb, lm, S.load_model())
        if got is not None:
            items.append(got)
    return _pack(items, [0.0] * len(items), blinks=-1, blink_seconds=0.0)


def _pack(items: list[dict[str, Any]], times: list[float], blinks: int, blink_seconds: float) -> dict[str, np.ndarray]:
    if len(items) > MAX_CROPS:
        keep = np.linspace(0, len(items) - 1, MAX_CROPS).round().astype(int)
        items = [items[i] for i in keep]
        times = [times[i] for i in keep]
    n = len(items)
    return {
        "net": np.stack([i["net"] for i in items]) if n else np.zeros((0, S.NET_PX, S.NET_PX, 3), np.uint8),
        "big": np.stack([i["big"] for i in items]) if n else np.zeros((0, BIG_PX, BIG_PX, 3), np.uint8),
        "wide": np.stack([i["wide"] for i in items]) if n else np.zeros((0, WIDE_PX, WIDE_PX, 3), np.uint8),
        "lm": np.stack([i["lm"] for i in items]) if n else np.zeros((0, 468, 2), np.float16),
        "blend": np.array([i["blend"] for i in items], np.float32),
        "t": np.array(times, np.float32),
        "blinks": np.array(blinks), "blink_seconds": np.array(blink_seconds),
    }


def _extract_one(f: dict[str, Any]) -> tuple[str, int, float]:
    dest = OUT / "crops" / f"{f['id']}.npz"
    if dest.exists():
        return f["path"], -1, 0.0
    t0 = time.time()
    try:
        data = extract_video(MEDIA / f["path"]) if f["kind"] == "video" else extract_image(MEDIA / f["path"])
    except Exception as exc:  # one unreadable file must not stop the rest
        log.warning("%s: %s", f["path"], exc)
        data = _pack([], [], -1, 0.0)
    tmp = dest.with_suffix(".tmp.npz")
    np.savez(tmp, **data)
    tmp.rename(dest)
    return f["path"], len(data["net"]), time.time() - t0


# --------------------------------------------------------------------------- pool


DEGRADATIONS = {
    "": {"min_px": MIN_SCALE_PX, "crf": CRF_RANGE, "jpeg": JPEG_RANGE},
    "mild": {"min_px": 96, "crf": (18, 30), "jpeg": (60, 95)},
    "chroma": {"min_px": MIN_SCALE_PX, "crf": CRF_RANGE, "jpeg": JPEG_RANGE, "flat_chroma": 0.5},
    "dfl60": {"min_px": MIN_SCALE_PX, "crf": CRF_RANGE, "jpeg": JPEG_RANGE, "dfl_crops": MAX_CROPS},
}
"""Degradation settings by pool tag: the default (faces down to MIN_SCALE_PX, crf up to 38), a
milder one (faces down to 96 px, crf up to 30) where self-blend seams stay visible, and the
default with half the self-blends' altered copies flattened in chroma (``self_blend(flat_chroma=)``:
training/probe_faceswap_dfl.py found DeepFaceLive's rendered faces flatter in chroma than the
ring around them, their own real input less so), and the default with up to ``dfl_crops`` crops of
each DeepFaceLive file (swap and real halves) instead of POOL_CROPS_PER_FILE (the DeepFaceLive
swaps are the only training data that moves the DeepFaceLive figure)."""


def degrade(img: np.ndarray, rng: np.random.Generator, tag: str = "", out_px: int = S.NET_PX) -> np.ndarray:
    """Random scale and compression, back to ``out_px`` (NET_PX, or WIDE_PX for the wide pool)."""
    cfg = DEGRADATIONS[tag]
    crf, jpeg = cfg["crf"], cfg["jpeg"]
    side = int(rng.integers(cfg["min_px"], BIG_PX + 1)) if rng.random() < 0.85 else BIG_PX
    if side < img.shape[0]:
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    u = rng.random()
    if u < H264_P:
        img = S.h264_roundtrip(img, int(rng.integers(crf[0], crf[1] + 1)))
    elif u < H264_P + JPEG_P:
        img = S.jpeg_roundtrip(img, int(rng.integers(jpeg[0], jpeg[1] + 1)))
    interp = cv2.INTER_AREA if img.shape[0] > out_px else cv2.INTER_LINEAR
    return cv2.resize(img, (out_px, out_px), interpolation=interp)


KIND_REAL, KIND_SBI, KIND_FAKE = 0, 1, 2


def pool_for_file(args: tuple[int, dict[str, Any], int, str, int]) -> dict[str, np.ndarray]:
    idx, f, variant, tag, px = args
    data = np.load(OUT / "crops" / f"{f['id']}.npz")
    big, lm = data["big"], data["lm"].astype(np.float32)
    per_file = DEGRADATIONS[tag].get("dfl_crops", POOL_CROPS_PER_FILE) if "/dfl/" in f["path"] else POOL_CROPS_PER_FILE
    if len(big) > per_file:  # evenly spread over the recording
        keep = np.linspace(0, len(big) - 1, int(per_file)).round().astype(int)
        big, lm = big[keep], lm[keep]
    rng = np.random.default_rng(seed_of(f"{f['path']}#{variant}"))
    xs, kinds = [], []
    for i in range(len(big)):
        if f["label"] == "real":
            xs.append(degrade(big[i], rng, tag, px))
            kinds.append(KIND_REAL)
            xs.append(degrade(S.self_blend(big[i], lm[i], rng, DEGRADATIONS[tag].get("flat_chroma", 0.0)), rng, tag, px))
            kinds.append(KIND_SBI)
        else:
            xs.append(degrade(big[i], rng, tag, px))
            kinds.append(KIND_FAKE)
    n = len(xs)
    return {"x": np.stack(xs) if n else np.zeros((0, px, px, 3), np.uint8),
            "kind": np.array(kinds, np.int8), "file": np.full(n, idx, np.int32)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--force", action="store_true", help="re-extract crops and rebuild the pools")
    ap.add_argument("--pool-tag", default="", choices=sorted(DEGRADATIONS), help="degradation setting (pool_<tag><v>.npz)")
    ap.add_argument("--net-px", type=int, default=S.NET_PX, choices=(S.NET_PX, WIDE_PX),
                    help=f"side of the pool's crops: {S.NET_PX} (the shipped model) or {WIDE_PX} (the resolution probe, "
                         f"poolw{WIDE_PX}_<v>.npz; same random draws, only the output size differs)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (MEDIA / MANIFESTS[0]).exists():
        sys.exit(f"{MEDIA} is absent: the crops come from the labelled dev media")
    (OUT / "crops").mkdir(parents=True, exist_ok=True)
    files = list_files()
    if args.force:
        for p in (OUT / "crops").glob("*.npz"):
            p.unlink()
    (OUT / "files.json").write_text(json.dumps(files, indent=1))
    t0 = time.time()
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers) as pool:
        for k, (path, n, dt) in enumerate(pool.imap_unordered(_extract_one, files)):
            if n >= 0:
                log.info("[%d/%d] %s: %d crops in %.1f s", k + 1, len(files), path, n, dt)
    log.info("crops done in %.0f s", time.time() - t0)
    todo = [f for f in files if f["train"]]
    index = {f["id"]: i for i, f in enumerate(files)}
    labels = hashlib.sha1(json.dumps([(f["id"], f["label"]) for f in todo]).encode()).hexdigest()[:16]
    for v in range(VARIANTS):
        tag = "_".join(t for t in (args.pool_tag, f"w{WIDE_PX}" if args.net_px == WIDE_PX else "") if t)
        dest = OUT / f"pool{tag + '_' if tag else ''}{v}.npz"
        if dest.exists() and not args.force:
            with np.load(dest) as have:
                if "labels" in have.files and str(have["labels"]) == labels:
                    continue
            log.info("pool %d: the files or their labels changed since it was built: building it again", v)
        t1 = time.time()
        with ctx.Pool(args.workers) as pool:
            parts = pool.map(pool_for_file, [(index[f["id"]], f, v, args.pool_tag, args.net_px) for f in todo], chunksize=4)
        x = np.concatenate([p["x"] for p in parts])
        kind = np.concatenate([p["kind"] for p in parts])
        fidx = np.concatenate([p["file"] for p in parts])
        np.savez(dest, x=x, kind=kind, fidx=fidx, labels=np.array(labels))
        log.info("pool %d: %d samples (%s) in %.0f s", v, len(x), np.bincount(kind, minlength=3).tolist(), time.time() - t1)


if __name__ == "__main__":
    main()
