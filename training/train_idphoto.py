"""Train the idphoto generation model: an L2 logistic regression over the pixel features of
detectors/photo_forensics.py, with grouped out-of-fold evaluation.

Recipe (seeded, deterministic; run from the repository root with the app's venv, since the
features need dlib and the engine; the fit is NumPy/SciPy only):

    uv run python training/train_idphoto.py            # features (cached) + fit + OOF table
    uv run python bench/idphoto_bench.py                # the same OOF table from the shipped fold models

Data (../shared/media, never copied into the repo; features cached under out/idphoto/):
* manifest_photos.csv: 693 face photos, ``group`` = generator or source
  (sdfd, sg3, tpdne, morph generated; ffhq, celebahq, london, canada, idportrait real);
* manifest_more.csv stills (16 StyleGAN2 at 1024 px, ~20 real press photos and portraits) and
  manifest.csv photos (real);
* real faces from the shared videos: one frame of every real video (40 % of its length),
  re-saved like the photos (JPEG 92, longer side at most 512 px), its manifest group;
* constructions, labelled by construction (same label and group as their original, so they
  always fall in their original's fold): ``jpeg60`` (re-encoded at quality 60), ``r400``
  (longer side resized to 400 px, JPEG 92), ``crop`` (a tight portrait crop around the face,
  JPEG 92), ``phone`` (phone-screenshot style: downscale 0.55-0.8, blur, a moire pattern,
  sensor-like noise, a little gain, JPEG 70-85; parameters seeded by the file name).
The face is found once on the original (detectors.faces.faces_in_image) and its box and
landmarks mapped through each construction.

Model: features standardised (mean/std of the training part), missing values (eyes too
small, ...) set to the mean, L2 logistic regression (``L2`` below) with balanced class
weights, trained on every construction of the training folds. Folds: detectors/folds.py on the
manifest group, so a fold model never saw the generator (or source) it scores. One model per
cue (spectrum, noise, texture, eyes: its features only) and one, ``combined``, over the
features of WEIGHED_CUES (see there why spectrum and texture are shown but not weighed). Outputs:
``assets/models/idphoto.json`` (fitted on everything) and
``assets/models/idphoto_folds/idphoto_fold<k>.json`` (fitted without fold k), which
detectors/idphoto.py reads through detectors.models.model_path (fold copies inside
``fold_models``). For comparison only, a per-image stratified 5-fold split (an image and its
constructions together) is printed too, clearly labelled: it lets the model see every
generator, which the grouped figures do not.

Face space (the ``face_space`` cue, weighed since 2026-12-02): the 128-d dlib face descriptor
that detectors.faces computes for every photo (a ResNet trained on millions of real faces;
shipped in the face_recognition_models wheel), per construction (``embeddings()``, cached in
out/idphoto/embeddings.npz), as 128 more features. Grouped out-of-fold AUC, orig / jpeg60 /
r400 / crop / phone (808 photos, run of 2026-12-02):
    noise + eyes (before)         0.651 0.667 0.548 0.644 0.631
    face_space alone              0.635 0.634 0.658 0.636 0.630
    noise + eyes + face_space     0.685 0.690 0.694 0.684 0.663   (ships)
Per generator against all reals, noise + eyes -> noise + eyes + face_space: SD 2.1 0.77 -> 0.61
(orig; the descriptor alone 0.53: a diffusion portrait lies where real faces lie), StyleGAN3
0.60 -> 0.77 (r400 0.18 -> 0.76), thispersondoesnotexist 0.41 -> 0.80, morphs 0.37 -> 0.83, the
1024-px StyleGAN2 stills 0.39 -> 0.61. It complements the pixel cues and barely moves under
compression and resizing, but the target (0.90 on degraded copies) is still far. Generated photos
at risk >= 0.5 (cut above every real's out-of-fold logit): 5 / 2 / 1 / 3 / 3 of 542 (0 before);
reals 0 of 266 everywhere. The ridge L2 of 0.3-30 changes the combined AUC by < 0.01 (1 kept).
What did not help (training/probe_idphoto_embed.py has the rest): the descriptor's norm, its
distance to the real faces' centroid or nearest real faces of other folds, its change under a
mirror flip, dlib's 68-point geometry normalised for pose and its symmetry, and Face Mesh's
intermediate features (all at or below 0.55 alone, and lowering the combined AUC beside it); the
descriptor's response to jitter, blur and JPEG, and its squares, +0.01-0.02 only
(training/probe_idphoto_jitter.py). The descriptor costs nothing more at run time: the app
computes it for every photo already.

The risk map: ``risk = sigmoid((logit - RISK_LOGIT_AT_HALF) * RISK_SLOPE)``: the logit at which
the risk reaches 0.5 is set above the out-of-fold logits of the real photos (originals), at
the quantile REAL_QUANTILE plus REAL_MARGIN, so a real photo stays below 0.5 even
when its own fold's model scores it; the nested figure (the cut taken from the other folds'
reals only) is printed beside it. The slope puts the median real photo at REAL_MEDIAN_RISK.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import idphoto as ID  # noqa: E402
from detectors import photo_forensics as pf  # noqa: E402
from detectors.folds import N_FOLDS, fold_of, group_key  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
CACHE = ROOT / "out" / "idphoto"
MODELS = ROOT / "assets" / "models"
FOLD_DIR = MODELS / "idphoto_folds"
CONDITIONS = ("orig", "jpeg60", "r400", "crop", "phone")
SEED = 19
L2 = 1.0
"""Ridge penalty (on standardised features; per training sample, so it does not shrink with n)."""
REAL_QUANTILE = 1.0
REAL_MARGIN = 0.25
REAL_MEDIAN_RISK = 0.05
"""The risk map's slope puts the median real photo (its out-of-fold logit) at this risk. With a
fixed slope of 1 most photos, real or generated, sat at risk 0.000x: there the tamper cues' noise
and rounding, not the generation evidence, decided their order (through the check's own code, out
of fold: the check's risk AUC 0.52 against its generation logit's 0.65)."""
MAX_SIDE = 512
FRAME_AT = 0.4


@dataclass(frozen=True)
class Item:
    path: str  # absolute
    label: int  # 1 generated, 0 real
    group: str
    kind: str  # "photo" or "frame"
    origin: str  # manifest file


def _rows(name: str) -> list[dict[str, str]]:
    p = MEDIA / name
    if not p.is_file():
        return []
    with p.open(newline="") as fh:
        return list(csv.DictReader(fh))


def extract_frame(video: Path, out: Path, at: float = FRAME_AT) -> Path | None:
    """One frame at ``at`` of the video's length, re-saved like the photos (JPEG 92, <= 512 px)."""
    import av
    from PIL import Image

    if out.is_file():
        return out
    try:
        with av.open(str(video)) as c:
            s = c.streams.video[0]
            dur = float(c.duration / 1e6) if c.duration else 0.0
            target = dur * at
            c.seek(int(target * 1e6), any_frame=False, backward=True)
            img = None
            for fr in c.decode(s):
                img = fr.to_image()
                if fr.time is not None and fr.time >= target:
                    break
    except Exception as exc:  # noqa: BLE001 - a damaged file is skipped, named
        print(f"skip {video}: {exc}", file=sys.stderr)
        return None
    if img is None:
        return None
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    out.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(out, "JPEG", quality=92)
    return out


def items(with_frames: bool = True) -> list[Item]:
    out: list[Item] = []
    for name in ("manifest_photos.csv", "manifest_more.csv", "manifest.csv"):
        for r in _rows(name):
            if r.get("kind") != "image":
                continue
            label = r["label"].strip()
            if label not in ("real", "fake") or r.get("manipulation", "").startswith("reuse-of"):
                continue  # a re-published copy is the same photo: the original represents it
            out.append(Item(str(MEDIA / r["path"]), int(label == "fake"), group_key(r.get("group"), r.get("source"), r["path"]), "photo", name))
    if with_frames:
        for name in ("manifest.csv", "manifest_more.csv"):
            for r in _rows(name):
                if r.get("kind") != "video" or r["label"].strip() != "real":
                    continue
                stem = r["path"].replace("/", "__").rsplit(".", 1)[0]
                f = extract_frame(MEDIA / r["path"], CACHE / "frames" / f"{stem}.jpg")
                if f is not None:
                    out.append(Item(str(f), 0, group_key(r.get("group"), r.get("source"), r["path"]), "frame", name))
    return out


def swap_stills() -> list[tuple[str, str]]:
    """(frame path, group) of one frame of every DeepFaceLive swap (evaluation only, never trained on)."""
    out = []
    for r in _rows("manifest_more.csv"):
        if r.get("kind") == "video" and r["path"].startswith("video/dfl/") and r["path"].endswith("_swap.mp4"):
            stem = r["path"].replace("/", "__").rsplit(".", 1)[0]
            f = extract_frame(MEDIA / r["path"], CACHE / "frames_swap" / f"{stem}.jpg")
            if f is not None:
                out.append((str(f), group_key(r.get("group"), r.get("source"), r["path"])))
    return out


# --------------------------------------------------------------------------- constructions


def _rng(path: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha1(f"{SEED}:{Path(path).name}".encode()).digest()[:8], "big"))


def _scale_geom(box: tuple[int, int, int, int], lm: dict[str, list[tuple[int, int]]], k: float, dx: float = 0.0, dy: float = 0.0) -> tuple[tuple[int, int, int, int], dict[str, list[tuple[int, int]]]]:
    b = tuple(int(round((v - (dx if i % 2 == 0 else dy)) * k)) for i, v in enumerate(box))
    m = {n: [(int(round((x - dx) * k)), int(round((y - dy) * k))) for x, y in pts] for n, pts in lm.items()}
    return b, m  # type: ignore[return-value]


def resize(rgb: np.ndarray, k: float) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (max(1, int(round(w * k))), max(1, int(round(h * k)))), interpolation=interp)


def phone_style(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A phone photo/screenshot of the picture: smaller, blurred, a moire pattern, noise, gain, JPEG."""
    import cv2

    k = float(rng.uniform(0.55, 0.8))
    x = resize(rgb, k).astype(np.float32)
    x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, 1.0)))
    h, w = x.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    period = float(rng.uniform(3.0, 7.0))
    ang = float(rng.uniform(0, np.pi))
    moire = float(rng.uniform(1.5, 4.0)) * np.sin(2 * np.pi * (xx * np.cos(ang) + yy * np.sin(ang)) / period)
    x = x * float(rng.uniform(0.9, 1.05)) + float(rng.uniform(-6, 6)) + moire[..., None]
    x = x + rng.normal(0, float(rng.uniform(1.5, 3.0)), x.shape).astype(np.float32)
    out = np.clip(x, 0, 255).astype(np.uint8)
    return pf.jpeg_roundtrip(out, int(rng.integers(70, 86))), k


def construct(cond: str, rgb: np.ndarray, box: tuple[int, int, int, int], lm: dict[str, list[tuple[int, int]]], path: str) -> tuple[np.ndarray, tuple[int, int, int, int], dict[str, list[tuple[int, int]]]]:
    """The copy of a photo made by construction ``cond``, with the face geometry mapped onto it."""
    if cond == "orig":
        return rgb, box, lm
    if cond == "jpeg60":
        return pf.jpeg_roundtrip(rgb, 60), box, lm
    if cond == "r400":
        k = 400.0 / max(rgb.shape[:2])
        b, m = _scale_geom(box, lm, k)
        return pf.jpeg_roundtrip(resize(rgb, k), 92), b, m
    if cond == "crop":
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = box
        fw, fh = x1 - x0, y1 - y0
        cx0, cy0 = max(0, int(x0 - 0.35 * fw)), max(0, int(y0 - 0.5 * fh))
        cx1, cy1 = min(w, int(x1 + 0.35 * fw)), min(h, int(y1 + 0.45 * fh))
        b, m = _scale_geom(box, lm, 1.0, cx0, cy0)
        return pf.jpeg_roundtrip(rgb[cy0:cy1, cx0:cx1], 92), b, m
    if cond == "phone":
        out, k = phone_style(rgb, _rng(path))
        b, m = _scale_geom(box, lm, k)
        return out, b, m
    raise ValueError(cond)


# --------------------------------------------------------------------------- features


def detect_face(path: str) -> dict[str, Any]:
    """The largest face of a photo: box and 68 landmarks (the app's dlib detector and landmark
    model, detectors.faces; the 128-d descriptor the app also computes is not needed here)."""
    from detectors.faces import IMAGE_DETECT_MAX_SIDE, _landmarks68, _model
    from detectors.media import load_image

    try:
        img = load_image(path, "id")
    except Exception as exc:  # noqa: BLE001 - reported, skipped
        return {"path": path, "error": str(exc)}
    rgb = np.ascontiguousarray(img.rgb)
    h, w = rgb.shape[:2]
    k = min(1.0, IMAGE_DETECT_MAX_SIDE / max(h, w))
    small = np.ascontiguousarray(resize(rgb, k)) if k < 1 else rgb
    det = _model("detector")
    rects = det(small, 1) or det(small, 2)
    if not rects:
        return {"path": path, "error": "no face"}
    r = max(rects, key=lambda r: r.width() * r.height())
    box = (max(0, int(r.left() / k)), max(0, int(r.top() / k)), min(w, int(r.right() / k)), min(h, int(r.bottom() / k)))
    return {"path": path, "box": list(box), "landmarks": _landmarks68(rgb, *box)}


def _features_of(args: tuple[Item, dict[str, Any]]) -> dict[str, Any]:

    item, face = args
    if "error" in face:
        return {"path": item.path, "error": face["error"]}
    box = tuple(face["box"])
    out: dict[str, Any] = {"path": item.path, "face_px": int(box[2] - box[0])}
    for cond, rgb, b, m in constructions(item, face):
        out[cond] = pf.measure(rgb, b, m).values.tolist()
    return out


def constructions(item: Item, face: dict[str, Any], conditions: tuple[str, ...] = CONDITIONS) -> Iterator[
        tuple[str, np.ndarray, tuple[int, int, int, int], dict[str, list[tuple[int, int]]]]]:
    """(condition, rgb, face box, landmarks) of each construction of ``item``'s photo, the face found
    on the original (:func:`faces`) mapped onto the copy."""
    from detectors.media import load_image

    rgb = np.ascontiguousarray(load_image(item.path, "id").rgb[..., :3])
    lm = {n: [tuple(p) for p in pts] for n, pts in face["landmarks"].items()}
    for cond in conditions:
        yield (cond, *construct(cond, rgb, tuple(face["box"]), lm, item.path))


def faces(all_items: list[Item], workers: int = 2) -> dict[str, dict[str, Any]]:
    """Per original path: its largest face (cached in out/idphoto/faces.json)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file = CACHE / "faces.json"
    cached: dict[str, Any] = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    todo = [it.path for it in all_items if it.path not in cached]
    if todo:
        print(f"finding faces in {len(todo)} photos", file=sys.stderr)
        with ProcessPoolExecutor(workers) as ex:
            for i, res in enumerate(ex.map(detect_face, todo, chunksize=4)):
                cached[res["path"]] = res
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1}/{len(todo)}", file=sys.stderr)
                    cache_file.write_text(json.dumps(cached))
        cache_file.write_text(json.dumps(cached))
    return cached


def _embeddings_of(args: tuple[Item, dict[str, Any]]) -> tuple[str, np.ndarray | None]:
    """The 128-d dlib face descriptor of every construction (detectors.faces._descriptor, what the
    app computes for every photo), on the face box mapped onto the copy."""
    from detectors.faces import _descriptor

    item, face = args
    if "error" in face:
        return item.path, None
    rows = [_descriptor(np.ascontiguousarray(img), *b) for _cond, img, b, _lm in constructions(item, face)]
    return item.path, np.stack(rows).astype(np.float32)


def embeddings(all_items: list[Item], workers: int = 2) -> dict[str, np.ndarray]:
    """Per original path: (len(CONDITIONS), 128) face descriptors (cached in out/idphoto/embeddings.npz)."""
    found = faces(all_items, workers)
    cached: dict[str, np.ndarray] = {}
    if EMBED_CACHE.is_file():
        z = np.load(EMBED_CACHE, allow_pickle=False)
        if tuple(z["conditions"].tolist()) == CONDITIONS:
            cached = dict(zip(z["paths"].tolist(), z["x"]))
    todo = [it for it in all_items if it.path not in cached and "error" not in found.get(it.path, {"error": 1})]
    if todo:
        print(f"face descriptors of {len(todo)} photos x {len(CONDITIONS)} constructions", file=sys.stderr)
        t0 = time.time()
        with ProcessPoolExecutor(workers) as ex:
            for i, (path, e) in enumerate(ex.map(_embeddings_of, [(it, found[it.path]) for it in todo], chunksize=4)):
                if e is not None:
                    cached[path] = e
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1}/{len(todo)}  {time.time() - t0:.0f}s", file=sys.stderr)
        np.savez(EMBED_CACHE, paths=np.array(list(cached)), x=np.stack(list(cached.values())), conditions=np.array(CONDITIONS))
    return cached


def features_key() -> str:
    """Changes when the measured features or the constructions change (their code is hashed)."""
    import inspect

    code = "".join(inspect.getsource(f) for f in (pf.measure, pf.face_square, pf.spectrum, pf.noise, pf.residual, pf.cooccurrence,
                                                   pf._eye, pf.eyes, construct, phone_style, resize))
    return hashlib.sha1((",".join(pf.FEATURES) + ",".join(CONDITIONS) + code).encode()).hexdigest()[:12]


def features(all_items: list[Item], workers: int = 2) -> dict[str, dict[str, Any]]:
    """Per original path: its features under every construction (cached in out/idphoto/)."""
    found = faces(all_items, workers)
    cache_file = CACHE / "features.json"
    key = features_key()
    cached: dict[str, Any] = {}
    if cache_file.is_file():
        data = json.loads(cache_file.read_text())
        if data.get("key") == key:
            cached = data["items"]
    todo = [it for it in all_items if it.path not in cached]
    t0 = time.time()
    if todo:
        print(f"measuring {len(todo)} photos x {len(CONDITIONS)} constructions ({workers} workers)", file=sys.stderr)
        with ProcessPoolExecutor(workers) as ex:
            for i, res in enumerate(ex.map(_features_of, [(it, found[it.path]) for it in todo], chunksize=4)):
                cached[res["path"]] = res
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1}/{len(todo)}  {time.time() - t0:.0f}s", file=sys.stderr)
        cache_file.write_text(json.dumps({"key": key, "items": cached}))
    return cached


# --------------------------------------------------------------------------- model


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half)."""
    from scipy.stats import rankdata

    s, y = np.asarray(scores, float), np.asarray(labels, int)
    s, y = s[~np.isnan(s)], y[~np.isnan(s)]  # a photo the model could not score is left out
    npos, nneg = int(y.sum()), int((1 - y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def fit_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], l2: float = L2) -> dict[str, Any]:
    """Standardise, impute the mean, fit an L2 logistic regression with balanced class weights."""
    from scipy.optimize import minimize

    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    std = np.nanstd(x, axis=0)
    std = np.where((std < 1e-9) | np.isnan(std), 1.0, std)
    z = np.where(np.isnan(x), 0.0, (x - mean) / std)
    w_pos, w_neg = 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum())
    sw = np.where(y == 1, w_pos, w_neg)
    d = z.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        t = z @ w + b
        p = 1 / (1 + np.exp(-t))
        nll = np.sum(sw * (np.logaddexp(0, t) - y * t))
        g = sw * (p - y)
        reg = 0.5 * l2 * (w @ w) / len(y)
        return nll + reg, np.concatenate([z.T @ g + l2 * w / len(y), [g.sum()]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return {"features": list(names), "mean": mean.tolist(), "std": std.tolist(), "coef": res.x[:d].tolist(), "intercept": float(res.x[d])}


def logit(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    mean, std = np.asarray(model["mean"]), np.asarray(model["std"])
    z = np.where(np.isnan(x), 0.0, (x - mean) / std)
    return z @ np.asarray(model["coef"]) + float(model["intercept"])


def oof_construction_probe(F: np.ndarray, y: np.ndarray, folds: np.ndarray, l2: float) -> dict[str, np.ndarray]:
    """For the probes of other features: F is (photos, len(CONDITIONS), D) with NaN rows where a
    construction has no face. Per construction, each photo's logit from a probe (:func:`fit_logistic`)
    fitted on every construction of the photos of the other folds."""
    out = {c: np.full(len(y), np.nan) for c in CONDITIONS}
    for k in range(N_FOLDS):
        tr = folds != k
        X = F[tr].reshape(-1, F.shape[-1]); Y = np.repeat(y[tr], len(CONDITIONS)); m = ~np.isnan(X).any(1)
        mdl = fit_logistic(X[m], Y[m], tuple(map(str, range(F.shape[-1]))), l2=l2)
        for j, c in enumerate(CONDITIONS):
            te = (folds == k) & ~np.isnan(F[:, j]).any(1)
            out[c][te] = logit(mdl, F[te, j])
    return out


NET_FEATURE = "net_logit"
"""The residual net's out-of-fold photo logit (training/train_idphoto_net.py, out/idphoto/net/oof.json):
one more column after pf.FEATURES, NaN where the net did not score the photo; then the 128
numbers of the dlib face descriptor (ID.EMBED_FEATURES, the ``face_space`` cue)."""
XFEATURES = pf.FEATURES + (NET_FEATURE,) + ID.EMBED_FEATURES
NET_OOF = CACHE / "net" / "oof.json"
EMBED_CACHE = CACHE / "embeddings.npz"
CUES = {**pf.CUE_FEATURES, "face_space": ID.EMBED_FEATURES}
"""The pixel cues of detectors/photo_forensics.py and the face-space cue (the face descriptor)."""


def cols(names: tuple[str, ...]) -> list[int]:
    return [XFEATURES.index(n) for n in names]


WEIGHED_CUES = ("noise", "eyes", "face_space")
"""The cues the combined model weighs (face_space: see the docstring's "Face space"). Spectrum and texture are measured and shown with their
own scores but not weighed: over all features, or over theirs alone, the grouped out-of-fold
AUC was below chance (spectrum 0.38, texture 0.45, all features 0.46 on the originals, run of
2026-12-02): what they learn tells the photo's source (size, resampling history), not its
generator. A cue the data cannot validate is not trusted."""
MODEL_SETS = {**CUES, "combined": tuple(f for c in WEIGHED_CUES for f in CUES[c])}

NET_RESULT = """The residual net (training/train_idphoto_net.py, 32-px patches of the face region's
high-pass residual, degradation-augmented) is not weighed: run of 2026-12-02, grouped out-of-fold
AUC orig / jpeg60 / r400 / crop / phone:
    residual net alone          0.537 0.648 0.578 0.538 0.594
    combined (noise+eyes)       0.651 0.667 0.548 0.644 0.631   (what ships)
    combined (noise+eyes+net)   0.622 0.661 0.539 0.617 0.601   (--net: lower everywhere)
Per generator (against all reals) it caught StyleGAN2 it never saw (tpdne 0.61, the 1024-px
StyleGAN2 stills 0.89 on the originals, where noise+eyes reach 0.41 / 0.39) but not SD 2.1
(0.51), StyleGAN3 at 256 px (0.53) or the morphs (0.12): trained without a generator family, it
learned the others' traces, which did not carry over. Trained twice as long: alone
0.563 0.630 0.595 0.560 0.582, weighed 0.616 0.652 0.543 0.615 0.592, again lower."""


def use_net(on: bool) -> None:
    """Weigh the residual net's logit in the combined model (its own row, ``residual_net``, is
    the raw out-of-fold logit, not refitted)."""
    base = tuple(f for c in WEIGHED_CUES for f in CUES[c])
    MODEL_SETS.pop("residual_net", None)
    if on:
        MODEL_SETS["residual_net"] = (NET_FEATURE,)
    MODEL_SETS["combined"] = base + ((NET_FEATURE,) if on else ())
    MODEL_SETS["combined"] = MODEL_SETS.pop("combined")  # keep it last


@dataclass
class Table:
    paths: list[str]
    labels: np.ndarray
    groups: list[str]
    kinds: list[str]
    x: dict[str, np.ndarray]  # condition -> (n, d)


def table(all_items: list[Item], feats: dict[str, dict[str, Any]], embeds: dict[str, np.ndarray] | None = None) -> Table:
    """Rows of XFEATURES per construction; the face descriptor from ``embeds`` (embeddings()),
    read from its cache when not given (NaN where absent)."""
    if embeds is None:
        embeds = dict(zip(*(lambda z: (z["paths"].tolist(), z["x"]))(np.load(EMBED_CACHE)))) if EMBED_CACHE.is_file() else {}
    keep = [it for it in all_items if feats.get(it.path) and "error" not in feats[it.path]]
    nan_emb = np.full(len(ID.EMBED_FEATURES), np.nan)
    net: dict[str, dict[str, float | None]] = {}
    if NET_OOF.is_file():
        data = json.loads(NET_OOF.read_text())
        net = {c: dict(zip(data["paths"], data[c])) for c in CONDITIONS}

    def row(it: Item, c: str) -> list[float]:
        v = net.get(c, {}).get(it.path)
        e = embeds[it.path][CONDITIONS.index(c)] if it.path in embeds else nan_emb
        return list(feats[it.path][c]) + [np.nan if v is None else float(v)] + [float(q) for q in e]

    return Table([it.path for it in keep], np.array([it.label for it in keep]), [it.group for it in keep], [it.kind for it in keep],
                 {c: np.array([row(it, c) for it in keep], float) for c in CONDITIONS})


def oof_scores(t: Table, fold_ids: np.ndarray, train_conditions: tuple[str, ...] = CONDITIONS) -> tuple[dict[str, dict[str, np.ndarray]], dict[int, dict[str, Any]]]:
    """Out-of-fold logits per model set and condition; and the per-fold models."""
    scores = {m: {c: np.full(len(t.labels), np.nan) for c in CONDITIONS} for m in MODEL_SETS}
    models: dict[int, dict[str, Any]] = {}
    for k in sorted(set(fold_ids.tolist())):
        tr = fold_ids != k
        te = fold_ids == k
        models[k] = {}
        for m, names in MODEL_SETS.items():
            ci = cols(names)
            x = np.vstack([t.x[c][tr][:, ci] for c in train_conditions])
            y = np.concatenate([t.labels[tr]] * len(train_conditions))
            if m == "residual_net":  # the net's own out-of-fold logit, shown as is
                for c in CONDITIONS:
                    scores[m][c][te] = t.x[c][te][:, ci[0]]
                continue
            model = fit_logistic(x, y, names)
            models[k][m] = model
            for c in CONDITIONS:
                scores[m][c][te] = logit(model, t.x[c][te][:, ci])
    return scores, models


def stratified_folds(labels: np.ndarray, k: int = N_FOLDS) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    out = np.zeros(len(labels), int)
    for cls in (0, 1):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        out[idx] = np.arange(len(idx)) % k
    return out


def print_auc_table(title: str, scores: dict[str, dict[str, np.ndarray]], labels: np.ndarray, mask: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    mask = np.ones(len(labels), bool) if mask is None else mask
    out: dict[str, dict[str, float]] = {}
    print(f"\n{title}  (n = {int(mask.sum())}: {int(labels[mask].sum())} generated, {int((1 - labels[mask]).sum())} real)")
    print(f"{'cue':<10}" + "".join(f"{c:>9}" for c in CONDITIONS))
    for m in scores:
        out[m] = {c: auc(scores[m][c][mask], labels[mask]) for c in CONDITIONS}
        print(f"{m:<10}" + "".join(f"{out[m][c]:>9.3f}" for c in CONDITIONS))
    return out


def risk_cut(real_logits: np.ndarray) -> float:
    return float(np.quantile(real_logits, REAL_QUANTILE) + REAL_MARGIN)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print the figures, write no model")
    ap.add_argument("--net", action="store_true", help="also weigh the residual net (training/train_idphoto_net.py; its out-of-fold "
                    "logits in out/idphoto/net/oof.json). Off by default: see NET_RESULT")
    args = ap.parse_args()
    if args.net and not NET_OOF.is_file():
        sys.exit(f"{NET_OOF} is missing: run training/train_idphoto_net.py train first")
    use_net(args.net)
    if not MEDIA.is_dir():
        sys.exit(f"{MEDIA} is absent: the training data is the shared development media")
    all_items = items()
    feats = features(all_items, args.workers)
    t = table(all_items, feats, embeddings(all_items, args.workers))
    skipped = [p for p, v in feats.items() if "error" in v]
    print(f"photos: {len(t.labels)} with a face ({int(t.labels.sum())} generated, {int((1 - t.labels).sum())} real); "
          f"{len(skipped)} without a usable face skipped")
    fold_ids = np.array([fold_of(g) for g in t.groups])
    scores, fold_models = oof_scores(t, fold_ids)
    print_auc_table("GROUPED out-of-fold AUC (folds by generator/source: unseen generators)", scores, t.labels)
    strat, _ = oof_scores(t, stratified_folds(t.labels))
    print_auc_table("PER-IMAGE stratified 5-fold AUC (for comparison only: every generator seen in training)", strat, t.labels)

    comb = scores["combined"]
    real = t.labels == 0
    cut = risk_cut(comb["orig"][real])
    slope = float(np.log(REAL_MEDIAN_RISK / (1 - REAL_MEDIAN_RISK)) / (np.median(comb["orig"][real]) - cut))
    print(f"risk slope {slope:.3f} (median real photo at risk {REAL_MEDIAN_RISK})")
    nested = []
    for k in sorted(set(fold_ids.tolist())):
        other = real & (fold_ids != k)
        c_k = risk_cut(comb["orig"][other]) if other.any() else cut
        nested.append(int(((comb["orig"] >= c_k) & real & (fold_ids == k)).sum()))
    print(f"\nrisk 0.5 at combined logit {cut:.3f}; real originals at or above it: {int((comb['orig'][real] >= cut).sum())} "
          f"(nested cut from the other folds' reals: {sum(nested)} of {int(real.sum())})")
    for c in CONDITIONS:
        fake = t.labels == 1
        print(f"  {c:<7} generated with risk >= 0.5: {int((comb[c][fake] >= cut).sum())}/{int(fake.sum())}, "
              f"real: {int((comb[c][real] >= cut).sum())}/{int(real.sum())}")
    print("\nper group (combined, originals): mean OOF logit, share >= cut")
    for g in sorted(set(t.groups), key=lambda s: (s.split(":")[0], s)):
        sel = np.array([gg == g for gg in t.groups])
        if sel.sum() >= 4:
            print(f"  {g:<14} n={int(sel.sum()):>4} label={int(t.labels[sel][0])} mean={comb['orig'][sel].mean():+.2f} flagged={float((comb['orig'][sel] >= cut).mean()):.2f}")
    if args.no_write:
        return
    meta = {"recipe": "training/train_idphoto.py", "seed": SEED, "l2": L2, "weighed_cues": list(WEIGHED_CUES), "n": int(len(t.labels)), "conditions": list(CONDITIONS),
            "risk_logit_at_half": cut, "risk_slope": slope, "weighs_net": NET_FEATURE in MODEL_SETS["combined"]}
    final = {m: fit_logistic(np.vstack([t.x[c][:, cols(n)] for c in CONDITIONS]), np.concatenate([t.labels] * len(CONDITIONS)), n)
             for m, n in MODEL_SETS.items() if m != "residual_net"}
    MODELS.mkdir(parents=True, exist_ok=True)
    (MODELS / "idphoto.json").write_text(json.dumps({**meta, "models": final}, indent=1))
    FOLD_DIR.mkdir(parents=True, exist_ok=True)
    for k, ms in fold_models.items():
        (FOLD_DIR / f"idphoto_fold{k}.json").write_text(json.dumps({**meta, "fold": k, "models": ms}, indent=1))
    print(f"\nwrote {MODELS / 'idphoto.json'} and {len(fold_models)} fold models in {FOLD_DIR}")


if __name__ == "__main__":
    main()
