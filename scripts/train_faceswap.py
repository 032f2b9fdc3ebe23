"""Train the face-swap check's blending-boundary model on self-blended real faces.

Data recipe (nothing downloaded, no fake from the evaluation set is ever used):
  * real faces: skimage's astronaut, the real photos listed in ../shared/media/manifest.csv
    (kind=image, label=real) and up to FACES_PER_VIDEO evenly spaced analysed frames of every
    real video in the manifest (no fake video is ever read);
  * each real face crop (taken exactly as the detector takes it: face box + CROP_MARGIN, source
    resolution) yields SAMPLES_PER_FACE pairs (real, self-blended) via
    :func:`detectors.faceswap_signals.self_blend` (the face blended onto a slightly altered copy
    of itself: colour shift, lower-resolution render / blur / sharpen, small shift; mask from the
    outline or the jaw+brows hull, wobbled, feathered);
  * both images of a pair get the same random degradation: downscale (face 60..full px wide;
    kept at full size 30% of the time), then one H.264 intra frame at crf 18..36 (45%), JPEG
    quality 50..95 (40%) or nothing (15%), as video compression would;
  * features: :func:`detectors.faceswap_signals.boundary_features`; model: L2-regularised
    logistic regression (Newton), features standardised on the real
    samples plus the squares of the texture ones (deviation from a real face either way).
  * validation: faces are split by source (every VALIDATION_EVERY-th source face held out);
    the validation AUC is printed and stored with the model;
  * leave-one-real-video-out: trained once per real video without that video's faces, the
    median probability the model gives the held-out video's own (real, unblended) frames is
    the false-alarm level on real footage it has not seen; the highest of them plus
    CENTRE_MARGIN is stored as the decision centre the detector maps to a score of 0.5.

Usage: uv run python scripts/train_faceswap.py [--out assets/models/faceswap_blend.json] [--features floor_brow|all]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402
from detectors.faces import FaceTracker, new_face_mesh  # noqa: E402
from detectors.media import VideoFrame, VideoStream, load_image  # noqa: E402

log = logging.getLogger("train_faceswap")

MEDIA = ROOT.parent / "shared" / "media"
FACES_PER_VIDEO = 48
SAMPLES_PER_FACE = 12
MIN_FACE_PX = S.MIN_TEXTURE_FACE_PX
JPEG_RANGE = (50, 95)
CRF_RANGE = (18, 36)
KEEP_SIZE_P = 0.3
H264_P, JPEG_P = 0.45, 0.40  # else no compression
L2 = 100.0
QUADRATIC = True
FEATURE_SETS = {
    "floor_brow": tuple(n for n in S.feature_names() if "floor" in n or n.startswith("brow")),
    "all": tuple(S.feature_names()),
}
MODEL_FEATURES = FEATURE_SETS["floor_brow"]
"""Noise-floor steps across the bands and forehead-vs-inner-face contrasts. Chosen over all
features, band means only, and the inner bands only by the leave-one-real-video-out
false-alarm level (real footage only, no fake involved): the band-mean steps that reach the
background separated self-blends better (validation AUC 0.82 against 0.70) but made real
videos the model had not seen look blended (median probability up to 0.95 against 0.58)."""
MODEL_INDEX = [S.feature_names().index(n) for n in MODEL_FEATURES]
CENTRE_MARGIN = 0.02
"""The decision centre is the highest leave-one-video-out real median plus this."""
VALIDATION_EVERY = 4
SEED = 1234
MESH_MAX_SIDE = 640


def face_from_image(rgb: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(crop, landmarks in crop px) for every face Face Mesh finds in a photo."""
    h, w = rgb.shape[:2]
    k = min(1.0, MESH_MAX_SIDE / max(h, w))
    small = cv2.resize(rgb, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    mesh = new_face_mesh(static=True, max_faces=4)
    try:
        res = mesh.process(np.ascontiguousarray(small))
    finally:
        mesh.close()
    out = []
    for lm in res.multi_face_landmarks or []:
        pts = np.array([(p.x * small.shape[1] / k, p.y * small.shape[0] / k) for p in lm.landmark], np.float32)
        out.append(_crop(rgb, pts))
    return out


def _crop(rgb: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    mw, mh = (x1 - x0) * S.CROP_MARGIN, (y1 - y0) * S.CROP_MARGIN
    a0, b0 = int(max(0, x0 - mw)), int(max(0, y0 - mh))
    a1, b1 = int(min(w, x1 + mw)), int(min(h, y1 + mh))
    return np.ascontiguousarray(rgb[b0:b1, a0:a1]), pts - np.array([a0, b0], np.float32)


def faces_from_video(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    with VideoStream(path, analysis_fps=15, with_audio=False) as vs:
        step = 2
        tracker = FaceTracker(str(path), vs.info.fps, 15, vs.info.duration_s)
        tracker.embed_interval = 1e9  # no embeddings needed
        n = 0
        for item in vs:
            if not isinstance(item, VideoFrame):
                continue
            obs = tracker.add(item)
            n += 1
            if obs is None or n % step:
                continue
            crop, sbox = item.crop_full(obs.box, margin=S.CROP_MARGIN)
            lm = obs.landmarks[:, :2] / item.scale - np.array(sbox[:2], np.float32)
            out.append((crop, lm))
        tracker.close()
    return out[:: max(1, len(out) // FACES_PER_VIDEO)][:FACES_PER_VIDEO]


def collect_faces() -> list[tuple[str, np.ndarray, np.ndarray]]:
    from skimage import data

    faces = [("astronaut", c, lm) for c, lm in face_from_image(data.astronaut())]
    manifest = MEDIA / "manifest.csv"
    if manifest.exists():
        with manifest.open() as fh:
            for row in csv.DictReader(fh):
                if row["label"] != "real" or row["manipulation"].startswith("reuse-of"):
                    continue
                if row["kind"] == "image":
                    img = load_image(MEDIA / row["path"])
                    faces += [(row["path"], c, lm) for c, lm in face_from_image(img.rgb)]
                elif row["kind"] == "video":
                    faces += [(row["path"], c, lm) for c, lm in faces_from_video(MEDIA / row["path"])]
    else:
        log.warning("%s absent: training on the astronaut only", manifest)
    return faces


def degrade(img: np.ndarray, lm: np.ndarray, k: float, codec: tuple[str, int]) -> tuple[np.ndarray, np.ndarray]:
    if k < 1.0:
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(8, int(w * k)), max(8, int(h * k))), interpolation=cv2.INTER_AREA)
        lm = lm * k
    kind, q = codec
    if kind == "h264":
        img = S.h264_roundtrip(img, q)
    elif kind == "jpeg":
        img = S.jpeg_roundtrip(img, q)
    return img, lm


def make_dataset(faces: list[tuple[str, np.ndarray, np.ndarray]], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y, group = [], [], []
    for gi, (_src, crop, lm) in enumerate(faces):
        fw = float(np.ptp(lm[list(S.FACE_OVAL), 0]))
        if fw < MIN_FACE_PX:
            continue
        for _ in range(SAMPLES_PER_FACE):
            fake = S.self_blend(crop, lm, rng)
            k = 1.0 if rng.random() < KEEP_SIZE_P else min(1.0, rng.uniform(MIN_FACE_PX, max(MIN_FACE_PX + 1, fw * 1.2)) / fw)
            u = rng.random()
            codec = ("h264", int(rng.integers(*CRF_RANGE))) if u < H264_P else (("jpeg", int(rng.integers(*JPEG_RANGE))) if u < H264_P + JPEG_P else ("none", 0))
            for img, label in ((crop, 0), (fake, 1)):
                im, l2 = degrade(img, lm, k, codec)
                X.append(S.boundary_features(S.normalise_crop(im, l2)))
                y.append(label)
                group.append(gi)
    return np.array(X, np.float64), np.array(y, np.float64), np.array(group)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 50, index: list[int] | None = None) -> S.LogisticModel:
    """Standardise on the real samples (so squares measure deviation from a real face), expand
    with squares, fit L2 logistic regression by Newton steps."""
    index = MODEL_INDEX if index is None else index
    X = X[:, index]
    mean, std = X[y == 0].mean(0), X[y == 0].std(0) + 1e-6
    proto = S.LogisticModel(tuple(S.feature_names()[i] for i in index), mean, std, np.zeros(0), 0.0, QUADRATIC)
    Z = np.hstack([proto.expand(X), np.ones((len(X), 1))])
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(Z @ w, -30, 30)))
        g = Z.T @ (p - y) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return S.LogisticModel(proto.names, mean, std, w[:-1], float(w[-1]), QUADRATIC)


def leave_one_video_out(faces: list[tuple[str, np.ndarray, np.ndarray]], X: np.ndarray, y: np.ndarray, group: np.ndarray) -> dict[str, float]:
    """Per real video: median probability its own real frames get from a model trained without it."""
    sources = np.array([f[0] for f in faces])
    out: dict[str, float] = {}
    for video in sorted({s for s in sources if s.startswith("video/")}):
        held = np.isin(group, np.flatnonzero(sources == video))
        model = fit_logistic(X[~held], y[~held])
        own = [S.boundary_features(S.normalise_crop(c, lm)) for src, c, lm in faces
               if src == video and np.ptp(lm[list(S.FACE_OVAL), 0]) >= MIN_FACE_PX]
        if own:
            out[video] = float(np.median(model.predict(np.array(own))))
            log.info("held out %-32s median blend probability of its real frames: %.3f", video, out[video])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(S.MODEL_PATH))
    ap.add_argument("--features", choices=sorted(FEATURE_SETS), default="floor_brow",
                    help="feature set (floor_brow ships; all = band means too: better on seen footage, worse on unseen)")
    args = ap.parse_args()
    global MODEL_FEATURES, MODEL_INDEX
    MODEL_FEATURES = FEATURE_SETS[args.features]
    MODEL_INDEX = [S.feature_names().index(n) for n in MODEL_FEATURES]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.time()
    rng = np.random.default_rng(SEED)
    faces = collect_faces()
    log.info("real faces: %d (%s)", len(faces), ", ".join(sorted({f[0] for f in faces})))
    X, y, group = make_dataset(faces, rng)
    log.info("samples: %d (%d self-blended), %d features", len(y), int(y.sum()), X.shape[1])
    val = (group % VALIDATION_EVERY) == 0
    model = fit_logistic(X[~val], y[~val])
    p = model.predict(X[val])
    val_auc = S.auc(p[y[val] == 1], p[y[val] == 0])
    log.info("validation AUC (held-out faces, self-blended vs real): %.3f", val_auc)
    lovo = leave_one_video_out(faces, X, y, group)
    model = fit_logistic(X, y)
    mean, std, w, b = model.mean, model.std, model.weights, model.bias
    centre = max(lovo.values()) + CENTRE_MARGIN if lovo else 0.5
    log.info("decision centre (highest held-out real median + %.2f): %.3f", CENTRE_MARGIN, centre)
    out = {
        "kind": "logistic regression on detectors.faceswap_signals.boundary_features",
        "recipe": __doc__.strip().splitlines()[2:18],
        "train_sources": sorted({f[0] for f in faces}),
        "leave_one_video_out_median_p_real": {k: round(v, 4) for k, v in lovo.items()},
        "samples": int(len(y)),
        "validation_auc": round(val_auc, 4),
        "features": list(MODEL_FEATURES),
        "decision_centre": round(centre, 4),
        "quadratic": QUADRATIC,
        "mean": np.round(mean, 5).tolist(),
        "std": np.round(std, 5).tolist(),
        "weights": np.round(w, 5).tolist(),
        "bias": round(b, 5),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    names = model.expanded_names()
    top = np.argsort(-np.abs(w))[:8]
    log.info("strongest features: %s", ", ".join(f"{names[i]} {w[i]:+.2f}" for i in top))
    log.info("wrote %s in %.0f s", args.out, time.time() - t0)


if __name__ == "__main__":
    main()
