"""Probe: do Face Mesh iris/eye geometry cues tell generated portraits from real ones on
generators they never saw? (Measured; not shipped.)

    uv run python training/probe_idphoto_iris.py      # app venv (mediapipe), ~3 min

For every photo of training/train_idphoto.py and each of its constructions (orig, jpeg60, r400,
crop, phone), mediapipe Face Mesh with iris refinement (478 points) gives, per eye, the iris
size (relative to the eye's width), its ellipticity (horizontal / vertical diameter), the iris
centre's position along and across the eye opening, and the eye's opening. Features compare
the two eyes (generated faces are said to disagree: Guo et al. 2022, Hu et al. 2021):

* ``iris_size_asym``: |log| of the two irises' size ratio;
* ``iris_ellipticity``: how far both irises are from round;
* ``gaze_h_diff`` / ``gaze_v_diff``: the two irises' positions in their eyes (gaze) disagree;
* ``eye_open_asym``: |log| of the two eyes' opening ratio;
* ``iris_rel_size``: mean iris size (not an asymmetry; a face-geometry prior).

A logistic regression over them is fitted per grouped fold (detectors/folds.py, folds by
generator/source) and scored out of fold, alone and beside the shipped noise + eyes features.

Result (run of 2026-12-02, 808 photos; AUC orig / jpeg60 / r400 / crop / phone):
    each asymmetry alone        0.43-0.53 everywhere (chance)
    iris logistic               0.473 0.481 0.485 0.476 0.481
    noise + eyes (ships)        0.651 0.667 0.548 0.644 0.631
    noise + eyes + iris         0.582 0.615 0.534 0.588 0.591
Face Mesh's iris points come from a model with a strong shape prior: they are drawn round and
symmetric whatever the pixels show, so they cannot see a generator's irregular iris. Not weighed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

import train_idphoto as T  # noqa: E402

from detectors.folds import fold_of  # noqa: E402

NAMES = ("iris_size_asym", "iris_ellipticity", "gaze_h_diff", "gaze_v_diff", "eye_open_asym", "iris_rel_size")
CACHE = T.CACHE / "iris.json"
# (iris centre, iris boundary), (outer corner, inner corner), (upper lid, lower lid)
EYES = (((468, (469, 470, 471, 472)), (33, 133), (159, 145)), ((473, (474, 475, 476, 477)), (263, 362), (386, 374)))


def iris_features(mesh, rgb: np.ndarray) -> list[float] | None:
    r = mesh.process(np.ascontiguousarray(rgb))
    if not r.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    p = np.array([(lm.x * w, lm.y * h) for lm in r.multi_face_landmarks[0].landmark])
    eyes = []
    for (c, ring), (o, i), (u, d) in EYES:
        b = p[list(ring)]
        dx, dy = np.linalg.norm(b[0] - b[2]), np.linalg.norm(b[1] - b[3])
        ew = max(float(np.linalg.norm(p[o] - p[i])), 1e-3)
        eh = float(np.linalg.norm(p[u] - p[d]))
        axis = (p[i] - p[o]) / ew
        eyes.append((0.5 * (dx + dy) / ew, dx / max(dy, 1e-3), float(np.dot(p[c] - p[o], axis) / ew),
                     float((p[c][1] - p[u][1]) / max(eh, 1e-3)), eh / ew))
    a, b = np.array(eyes[0]), np.array(eyes[1])
    return [abs(float(np.log(a[0] / b[0]))), abs(float(np.log(a[1]))) + abs(float(np.log(b[1]))), abs(a[2] - b[2]), abs(a[3] - b[3]),
            abs(float(np.log(max(a[4], 1e-3) / max(b[4], 1e-3)))), 0.5 * (a[0] + b[0])]


def measure(items: list[T.Item]) -> dict[str, dict[str, list[float] | None]]:
    from mediapipe.python.solutions import face_mesh


    cached = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    found = T.faces(items)
    todo = [it for it in items if it.path not in cached and "error" not in found.get(it.path, {"error": 1})]
    if todo:
        with face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
            for it in todo:
                cached[it.path] = {c: iris_features(mesh, img) for c, img, _b, _lm in T.constructions(it, found[it.path])}
        CACHE.write_text(json.dumps(cached))
    return cached


def main() -> None:
    items = T.items()
    t = T.table(items, T.features(items))
    iris = measure(items)
    x = {c: np.array([(iris.get(p, {}).get(c) or [np.nan] * len(NAMES)) for p in t.paths], float) for c in T.CONDITIONS}
    y = t.labels
    folds = np.array([fold_of(g) for g in t.groups])
    print(f"{'feature':<20}" + "".join(f"{c:>8}" for c in T.CONDITIONS))
    for j, n in enumerate(NAMES):
        print(f"{n:<20}" + "".join(f"{T.auc(x[c][:, j], y):>8.3f}" for c in T.CONDITIONS))
    base = T.cols(T.MODEL_SETS["combined"])

    def oof(get) -> dict[str, np.ndarray]:
        s = {c: np.full(len(y), np.nan) for c in T.CONDITIONS}
        for k in sorted(set(folds.tolist())):
            tr, te = folds != k, folds == k
            m = T.fit_logistic(np.vstack([get(c)[tr] for c in T.CONDITIONS]), np.concatenate([y[tr]] * len(T.CONDITIONS)),
                               tuple(str(i) for i in range(get("orig").shape[1])))
            for c in T.CONDITIONS:
                s[c][te] = T.logit(m, get(c)[te])
        return s

    print("\ngrouped out-of-fold AUC (logistic per fold)")
    for name, get in (("iris", lambda c: x[c]), ("noise+eyes", lambda c: t.x[c][:, base]),
                      ("noise+eyes+iris", lambda c: np.hstack([t.x[c][:, base], x[c]]))):
        s = oof(get)
        print(f"{name:<20}" + "".join(f"{T.auc(s[c], y):>8.3f}" for c in T.CONDITIONS))


if __name__ == "__main__":
    main()
