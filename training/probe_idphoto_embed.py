"""Probe: do the pretrained dlib face models (the 128-d face-recognition ResNet the engine already
computes, and the 68-point shape predictor) tell generated portraits from real ones on
generators they never saw? (Measured; see the result below.)

    uv run python training/probe_idphoto_embed.py            # app venv (dlib); measures, caches, prints
    uv run python training/probe_idphoto_embed.py --eval     # figures from the cache only

For every photo of training/train_idphoto.py and each of its constructions (orig, jpeg60, r400,
crop, phone), on the constructed copy (box mapped from the original, as there):

* dlib's 5-point shape -> the aligned 150-px face chip (dlib.get_face_chip, padding 0.25) ->
  the 128-d descriptor of the chip (what detectors.faces computes for every photo) and of the
  mirrored chip;
* dlib's 68 landmarks re-fitted on the copy.

Cues (each a logistic regression fitted per grouped fold, detectors/folds.py, scored out of
fold exactly like train_idphoto.py, alone and beside the shipped noise + eyes features):

* ``emb``: the 128 numbers themselves (does a generated face live in another part of the
  face space?);
* ``emb_stats``: the descriptor's norm, its distance to the centroid of the training folds'
  real faces, and the mean distance to its 1 and 5 nearest real faces of the training folds
  (a real face of its own group excluded, so a training row does not find itself);
* ``flip``: the distance between the descriptor of the chip and of its mirror image, and the
  norms' difference (a generated face may be more symmetric, or its embedding less stable);
* ``geometry``: the 68 landmarks normalised for in-plane pose (eye centres to fixed points),
  136 numbers; ``symmetry``: how far the mirrored landmark set lies from the set itself
  (mean and max over the mirrored pairs), and the face's yaw proxy (nose tip against the eye
  midpoint).
* ``mesh_*``: mediapipe Face Mesh (face_landmark.tflite from the wheel, run by the NumPy
  interpreter training/probe_idphoto_tflite.py) on the upright 192-px face: the 6x6 trunk and
  the two heads' 3x3 feature maps averaged over space (128 numbers each) and the face-flag logit.

Result (run of 2026-12-02, 808 photos: 542 generated, 266 real; grouped out-of-fold AUC,
orig / jpeg60 / r400 / crop / phone):
    noise + eyes (shipped before)     0.651 0.667 0.548 0.644 0.631
    emb (128-d descriptor)            0.635 0.634 0.658 0.636 0.630
    emb_stats (norm, centroid, kNN)   0.529 0.529 0.532 0.530 0.527
    flip                              0.425 0.428 0.427 0.415 0.432
    geometry (68 points)              0.448 0.448 0.459 0.437 0.448
    symmetry                          0.330 0.330 0.330 0.327 0.332
    mesh trunk / lm head / flag head  0.550-0.569 / 0.473-0.512 / 0.522-0.550
    mesh_all                          0.516 0.518 0.532 0.523 0.541
    noise + eyes + emb                0.685 0.690 0.694 0.684 0.663   <- shipped (face_space cue)
    noise + eyes + emb_stats          0.719 0.720 0.653 0.720 0.643   (kNN needs a reference set of
                                      real faces shipped with the app, and falls on r400/phone)
    noise + eyes + emb + flip + sym   0.681 0.686 0.689 0.678 0.660
    noise + eyes + mesh_all           0.526 0.528 0.555 0.531 0.546
    noise + eyes + emb + mesh trunk   0.599 0.608 0.612 0.598 0.583
    emb, ridge L2 10 / 100 / 1000     0.635-0.657 / 0.614-0.641 / 0.568-0.588
Single numbers, no fit (AUC, orig): descriptor norm 0.48, flip distance 0.59, landmark
asymmetry 0.48, yaw 0.48, Face Mesh face-flag logit 0.55. Per generator (emb alone, orig):
SD 2.1 0.53, StyleGAN3 0.75, StyleGAN2 (tpdne) 0.80, morphs 0.82; Face Mesh features: morphs
0.13, SD 0.43, i.e. they learn the training generators' faces, not generation. The descriptor
alone is the one that carried to unseen generators, and complements the pixel cues (they catch
SD 2.1, it catches the StyleGANs and morphs). Geometry and symmetry fell below chance: what
they learn (pose, expression of the sources) turns around on the unseen group.
"""

from __future__ import annotations

import argparse
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

CACHE = T.CACHE / "embed.npz"
"""Per photo and construction: descriptor (128), mirrored descriptor (128), 68 landmarks (136),
Face Mesh features (MESH_D)."""
MESH = Path(__import__("mediapipe").__file__).parent / "modules" / "face_landmark" / "face_landmark.tflite"
MESH_TENSORS = ("p_re_lu_15", "p_re_lu_18", "p_re_lu_26")
"""Face Mesh (face_landmark.tflite) feature maps read, each averaged over space to 128 numbers:
the 6x6 trunk, the landmark head's and the face-flag head's 3x3 maps; then the face-flag logit."""
MESH_D = 128 * len(MESH_TENSORS) + 1
D = 128 + 128 + 136 + MESH_D
_mesh = None


def mesh_features(rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Face Mesh's intermediate features on the face, rotated upright (eye centres level), 192 px."""
    import cv2

    from probe_idphoto_tflite import Model

    global _mesh
    if _mesh is None:
        _mesh = Model(MESH)
    le, re = pts[36:42].mean(0), pts[42:48].mean(0)
    ang = float(np.degrees(np.arctan2(re[1] - le[1], re[0] - le[0])))
    c = pts.mean(0)
    size = 1.5 * float(np.ptp(pts[:, 0]) if np.ptp(pts[:, 0]) > np.ptp(pts[:, 1]) else np.ptp(pts[:, 1]))
    a = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), ang, 192.0 / max(size, 1.0))
    a[:, 2] += 96 - c
    crop = cv2.warpAffine(rgb, a, (192, 192), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    t = _mesh.run(crop[None].astype(np.float32) / 255.0)
    f = [t[_mesh.index(n)][0].mean((0, 1)) for n in MESH_TENSORS]
    return np.concatenate(f + [t[_mesh.index("conv2d_31")].ravel()])

# mirrored pairs of the 68-point layout (iBUG): chin, brows, eyes, nose, mouth
MIRROR = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
          + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
          + [(48, 54), (49, 53), (50, 52), (60, 64), (61, 63), (67, 65), (59, 55), (58, 56)])
MIDLINE = (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)


def measure_one(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    import dlib

    from detectors.faces import _model

    rgb = np.ascontiguousarray(rgb[..., :3])
    rect = dlib.rectangle(*[int(v) for v in box])
    out = np.full(D, np.nan, np.float32)
    try:
        s5 = _model("pose5")(rgb, rect)
        chip = dlib.get_face_chip(rgb, s5, 150, 0.25)
        e = np.array(_model("encoder").compute_face_descriptor([chip, np.ascontiguousarray(chip[:, ::-1])]), np.float32)
        s68 = _model("pose68")(rgb, rect)
        out[:128], out[128:256] = e[0], e[1]
        pts = np.array([(p.x, p.y) for p in s68.parts()], np.float32)
        out[256:392] = pts.ravel()
        out[392:] = mesh_features(rgb, pts)
    except Exception as exc:  # noqa: BLE001 - a copy that cannot be measured stays NaN, named
        print(f"  measure failed: {exc}", file=sys.stderr)
    return out


def measure(items: list[T.Item]) -> dict[str, np.ndarray]:

    cached: dict[str, np.ndarray] = {}
    if CACHE.is_file():
        z = np.load(CACHE, allow_pickle=False)
        cached = dict(zip(z["paths"].tolist(), z["x"]))
    found = T.faces(items)
    todo = [it for it in items if it.path not in cached and "error" not in found.get(it.path, {"error": 1})]
    np.random.default_rng(T.SEED).shuffle(todo)  # a partial cache is a fair sample of every group
    t0 = time.time()

    def save() -> None:
        CACHE.write_bytes(b"")  # replaced below (np.savez appends .npz to a name without it)
        np.savez(CACHE, paths=np.array(list(cached)), x=np.stack(list(cached.values())))

    for i, it in enumerate(todo):
        cached[it.path] = np.stack([measure_one(img, b) for _c, img, b, _lm in T.constructions(it, found[it.path])])
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(todo)} {time.time() - t0:.0f}s", file=sys.stderr)
            save()
    if todo:
        save()
    return cached


# --------------------------------------------------------------------------- cues


def norm_landmarks(p: np.ndarray) -> np.ndarray:
    """(n, 136) pixel landmarks -> eye centres at (-0.5, 0) and (0.5, 0)."""
    p = p.reshape(len(p), 68, 2)
    le, re = p[:, 36:42].mean(1), p[:, 42:48].mean(1)
    mid, v = 0.5 * (le + re), re - le
    s = np.linalg.norm(v, axis=1, keepdims=True)
    c, sn = v[:, :1] / s, v[:, 1:] / s
    q = p - mid[:, None]
    x = (q[..., 0] * c + q[..., 1] * sn) / s
    y = (-q[..., 0] * sn + q[..., 1] * c) / s
    return np.stack([x, y], -1)


def symmetry(p: np.ndarray) -> np.ndarray:
    """(n, 68, 2) normalised -> [mean mirrored-pair error, max, yaw proxy]."""
    a = np.array([i for i, _ in MIRROR])
    b = np.array([j for _, j in MIRROR])
    mid_x = p[:, list(MIDLINE), 0].mean(1, keepdims=True)
    err = np.hypot(p[:, a, 0] - mid_x + (p[:, b, 0] - mid_x), p[:, a, 1] - p[:, b, 1])
    return np.stack([err.mean(1), err.max(1), p[:, 30, 0]], 1)


def knn_feats(q: np.ndarray, qg: list[str], ref: np.ndarray, rg: list[str]) -> np.ndarray:
    """Mean distance to the 1 and 5 nearest reference faces not of the query's own group."""
    d = np.linalg.norm(q[:, None] - ref[None], axis=2)
    d[np.array(qg)[:, None] == np.array(rg)[None]] = np.inf
    d.sort(1)
    return np.stack([d[:, 0], d[:, :5].mean(1)], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval", action="store_true", help="figures from the cache only")
    args = ap.parse_args()
    items = T.items()
    t = T.table(items, T.features(items))
    emb = measure(items) if not args.eval else dict(zip(*(lambda z: (z["paths"].tolist(), z["x"]))(np.load(CACHE))))
    keep = np.array([p in emb for p in t.paths])
    print(f"photos with a face: {len(t.paths)}; measured here: {int(keep.sum())}")
    R = {c: np.stack([emb[p][j] if p in emb else np.full(D, np.nan, np.float32) for p in t.paths]).astype(float)
         for j, c in enumerate(T.CONDITIONS)}
    y, groups = t.labels, t.groups
    folds = np.array([fold_of(g) for g in groups])
    E = {c: R[c][:, :128] for c in T.CONDITIONS}
    F = {c: R[c][:, 128:256] for c in T.CONDITIONS}
    P = {c: norm_landmarks(R[c][:, 256:392]) for c in T.CONDITIONS}
    MF = {c: R[c][:, 392:] for c in T.CONDITIONS}
    flip = {c: np.stack([np.linalg.norm(E[c] - F[c], axis=1), np.linalg.norm(E[c], axis=1) - np.linalg.norm(F[c], axis=1)], 1) for c in T.CONDITIONS}
    geo = {c: P[c].reshape(len(y), -1) for c in T.CONDITIONS}
    sym = {c: symmetry(P[c]) for c in T.CONDITIONS}
    base = T.cols(T.MODEL_SETS["combined"])
    NE = {c: t.x[c][:, base] for c in T.CONDITIONS}

    def stats_for(k: int) -> dict[str, np.ndarray]:
        """emb_stats with the reference = the real faces (original copies) of the folds other than k."""
        ref_m = (folds != k) & (y == 0) & ~np.isnan(E["orig"][:, 0])
        ref, rg = E["orig"][ref_m], [g for g, m in zip(groups, ref_m) if m]
        cen = ref.mean(0)
        out = {}
        for c in T.CONDITIONS:
            e = np.where(np.isnan(E[c]), 0, E[c])
            out[c] = np.hstack([np.linalg.norm(E[c], axis=1, keepdims=True), np.linalg.norm(E[c] - cen, axis=1, keepdims=True),
                                knn_feats(e, groups, ref, rg)])
            out[c][np.isnan(E[c][:, 0])] = np.nan
        return out

    stats_cache = {k: stats_for(k) for k in sorted(set(folds.tolist()))}

    def oof(get, l2: float = T.L2) -> dict[str, np.ndarray]:
        s = {c: np.full(len(y), np.nan) for c in T.CONDITIONS}
        for k in sorted(set(folds.tolist())):
            tr, te = (folds != k) & keep, (folds == k) & keep
            x = np.vstack([get(c, k)[tr] for c in T.CONDITIONS])
            m = T.fit_logistic(x, np.concatenate([y[tr]] * len(T.CONDITIONS)), tuple(str(i) for i in range(x.shape[1])), l2)
            for c in T.CONDITIONS:
                s[c][te] = T.logit(m, get(c, k)[te])
        return s

    cues = {
        "noise+eyes": lambda c, k: NE[c],
        "emb": lambda c, k: E[c],
        "emb_stats": lambda c, k: stats_cache[k][c],
        "flip": lambda c, k: flip[c],
        "geometry": lambda c, k: geo[c],
        "symmetry": lambda c, k: sym[c],
        "mesh_trunk": lambda c, k: MF[c][:, :128],
        "mesh_lm": lambda c, k: MF[c][:, 128:256],
        "mesh_flag": lambda c, k: MF[c][:, 256:],
        "mesh_all": lambda c, k: MF[c],
        "emb+flip": lambda c, k: np.hstack([E[c], flip[c]]),
        "ne+mesh_all": lambda c, k: np.hstack([NE[c], MF[c]]),
        "emb+mesh_all": lambda c, k: np.hstack([E[c], MF[c]]),
        "ne+emb": lambda c, k: np.hstack([NE[c], E[c]]),
        "ne+emb_stats": lambda c, k: np.hstack([NE[c], stats_cache[k][c]]),
        "ne+flip": lambda c, k: np.hstack([NE[c], flip[c]]),
        "ne+geometry": lambda c, k: np.hstack([NE[c], geo[c]]),
        "ne+symmetry": lambda c, k: np.hstack([NE[c], sym[c]]),
        "ne+emb+flip+sym": lambda c, k: np.hstack([NE[c], E[c], flip[c], sym[c]]),
    }
    print("\nsingle features, raw AUC (sign as measured; no fit)")
    for name, arr, cols in (("norm", lambda c: stats_cache[0][c][:, 0], None), ("flip_dist", lambda c: flip[c][:, 0], None),
                            ("flip_norm_diff", lambda c: flip[c][:, 1], None), ("sym_mean", lambda c: sym[c][:, 0], None),
                            ("sym_max", lambda c: sym[c][:, 1], None), ("yaw", lambda c: np.abs(sym[c][:, 2]), None),
                            ("mesh_faceflag", lambda c: MF[c][:, -1], None)):
        print(f"{name:<18}" + "".join(f"{T.auc(arr(c)[keep], y[keep]):>8.3f}" for c in T.CONDITIONS))
    oofs = {}
    print(f"\ngrouped out-of-fold AUC (logistic per fold, trained on all constructions)\n{'cue':<18}" + "".join(f"{c:>8}" for c in T.CONDITIONS))
    for name, get in cues.items():
        oofs[name] = oof(get)
        print(f"{name:<18}" + "".join(f"{T.auc(oofs[name][c][keep], y[keep]):>8.3f}" for c in T.CONDITIONS), flush=True)
    for l2 in (10.0, 100.0, 1000.0):
        s = oof(cues["emb"], l2)
        print(f"{'emb l2=' + str(l2):<18}" + "".join(f"{T.auc(s[c][keep], y[keep]):>8.3f}" for c in T.CONDITIONS), flush=True)
    print("\nper generator (against all reals)")
    gens = sorted({g for g, l in zip(groups, y) if l == 1})
    for name in ("noise+eyes", "emb", "emb_stats", "flip", "geometry", "mesh_all", "ne+emb", "ne+mesh_all", "ne+emb+flip+sym"):
        print(f"  {name}")
        for g in gens:
            m = keep & ((np.array(groups) == g) | (y == 0))
            if (m & (y == 1)).sum() >= 4:
                print(f"    {g:<14} n={int((m & (y == 1)).sum()):>4}" + "".join(f"{T.auc(oofs[name][c][m], y[m]):>8.3f}" for c in T.CONDITIONS))
    json.dump({n: {c: v[c].tolist() for c in T.CONDITIONS} for n, v in oofs.items()} | {"paths": t.paths},
              open(T.CACHE / "embed_oof.json", "w"))


if __name__ == "__main__":
    main()
