"""Probe: does the dlib face descriptor of a generated face move differently from a real face's
under small perturbations of the aligned face? (Measured; not shipped.)

    uv run python training/probe_idphoto_jitter.py          # app venv (dlib), ~15 min on a busy machine

For every photo of training/train_idphoto.py, on the original and on its phone-style copy (the
two ends of the constructions; the others were left out for time), dlib's aligned 150-px chip
(as in training/probe_idphoto_embed.py) and four perturbed chips: shifted 3 px and rotated 4
degrees with a 4 % zoom (two geometric jitters), Gaussian blur sigma 1.2, JPEG quality 40. Per
perturbation: the distance of its descriptor to the unperturbed one, and the distances relative to
their mean (the shape of the response). A logistic regression per grouped fold (detectors/folds.py,
trained on both copies), alone and beside the shipped noise + eyes + face_space features.

Result (run of 2026-12-02, 808 photos: 542 generated, 266 real; AUC orig / phone):
    single distances, no fit: shift 0.603 / 0.582, rotate+zoom 0.568 / 0.583, blur 0.666 / 0.604,
                              JPEG 40 0.393 / 0.343 (a real face's descriptor moves more)
    jitter logistic alone     0.527 0.546   (the directions do not hold across the grouped folds)
    shipped (noise + eyes + face_space, trained on these two copies)          0.707 0.650
    shipped + jitter                                                          0.719 0.669
A gain of 0.01-0.02, inside the noise of 808 photos, measured on two of the five constructions,
for four more descriptors per photo (about 0.5 s on this machine): not shipped. Beside it, a
quadratic term of the descriptor (its standardised squares, 128 more features) gave
0.697 / 0.704 / 0.704 / 0.699 / 0.674 against the shipped 0.685 / 0.690 / 0.694 / 0.684 / 0.663
(orig / jpeg60 / r400 / crop / phone), also +0.01, chosen after five variants: not shipped either.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

import train_idphoto as T  # noqa: E402

from detectors.folds import fold_of  # noqa: E402

CACHE = T.CACHE / "jitter.json"
CONDS = ("orig", "phone")
NAMES = ("d_shift", "d_rotzoom", "d_blur", "d_jpeg")


def perturbed(chip: np.ndarray) -> list[np.ndarray]:
    import cv2

    from detectors import photo_forensics as pf

    h, w = chip.shape[:2]
    a = np.float32([[1, 0, 3], [0, 1, -3]])
    shift = cv2.warpAffine(chip, a, (w, h), borderMode=cv2.BORDER_REFLECT)
    rz = cv2.warpAffine(chip, cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.04), (w, h), borderMode=cv2.BORDER_REFLECT)
    blur = cv2.GaussianBlur(chip, (0, 0), 1.2)
    jpg = pf.jpeg_roundtrip(np.ascontiguousarray(chip), 40)
    return [np.ascontiguousarray(x) for x in (shift, rz, blur, jpg)]


def measure_one(rgb: np.ndarray, box: tuple[int, int, int, int]) -> list[float] | None:
    import dlib

    from detectors.faces import _model

    rgb = np.ascontiguousarray(rgb[..., :3])
    try:
        s5 = _model("pose5")(rgb, dlib.rectangle(*[int(v) for v in box]))
        chip = dlib.get_face_chip(rgb, s5, 150, 0.25)
        e = np.array(_model("encoder").compute_face_descriptor([chip] + perturbed(chip)), np.float64)
    except Exception:  # noqa: BLE001 - unmeasured stays None
        return None
    return [float(np.linalg.norm(e[i] - e[0])) for i in range(1, 5)]


def measure(items: list[T.Item]) -> dict[str, dict[str, list[float] | None]]:

    cached = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    found = T.faces(items)
    todo = [it for it in items if it.path not in cached and "error" not in found.get(it.path, {"error": 1})]
    np.random.default_rng(T.SEED).shuffle(todo)
    t0 = time.time()
    for i, it in enumerate(todo):
        cached[it.path] = {c: measure_one(img, b) for c, img, b, _lm in T.constructions(it, found[it.path], CONDS)}
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(todo)} {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
            CACHE.write_text(json.dumps(cached))
    CACHE.write_text(json.dumps(cached))
    return cached


def main() -> None:
    items = T.items()
    t = T.table(items, T.features(items))
    jit = measure(items)
    y = t.labels
    folds = np.array([fold_of(g) for g in t.groups])
    raw = {c: np.array([(jit.get(p, {}).get(c) or [np.nan] * 4) for p in t.paths], float) for c in CONDS}
    rel = {c: raw[c] / raw[c].mean(1, keepdims=True) for c in CONDS}
    X = {c: np.hstack([raw[c], rel[c]]) for c in CONDS}
    keep = ~np.isnan(raw["orig"][:, 0])
    print(f"measured: {int(keep.sum())} of {len(y)}")
    print(f"{'feature':<14}" + "".join(f"{c:>8}" for c in CONDS))
    for j, n in enumerate(NAMES):
        print(f"{n:<14}" + "".join(f"{T.auc(raw[c][keep, j], y[keep]):>8.3f}" for c in CONDS))
    shipped = T.cols(T.MODEL_SETS["combined"])

    def oof(get) -> dict[str, np.ndarray]:
        s = {c: np.full(len(y), np.nan) for c in CONDS}
        for k in sorted(set(folds.tolist())):
            tr, te = (folds != k) & keep, (folds == k) & keep
            x = np.vstack([get(c)[tr] for c in CONDS])
            m = T.fit_logistic(x, np.concatenate([y[tr]] * len(CONDS)), tuple(str(i) for i in range(x.shape[1])))
            for c in CONDS:
                s[c][te] = T.logit(m, get(c)[te])
        return s

    print("\ngrouped out-of-fold AUC (trained on orig + phone copies)")
    for name, get in (("jitter", lambda c: X[c]), ("shipped", lambda c: t.x[c][:, shipped]),
                      ("shipped+jitter", lambda c: np.hstack([t.x[c][:, shipped], X[c]]))):
        s = oof(get)
        print(f"{name:<16}" + "".join(f"{T.auc(s[c][keep], y[keep]):>8.3f}" for c in CONDS), flush=True)


if __name__ == "__main__":
    main()
