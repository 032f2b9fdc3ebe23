"""Probe (not shipped): the face-swap check's CLIP encoder on ID photos. Every photo and construction
of training/train_idphoto.py (the same items, faces and constructions), its face aligned by Face
Mesh to the 192 px crop the face-swap check embeds (detectors/models/clip_faces.py), a linear probe
over the 512-d embedding per fold (grouped by generator/source, L2 30, trained on every
construction), and its stack with the shipped combined model's out-of-fold logit (each in units of
the training folds' real photos).

    uv run python training/probe_idphoto_clip.py      # ~7 min on the 2-core machine (cached after)

Measured 2026-12-02 (808 photos; AUC orig / jpeg60 / r400 / crop / phone):

    shipped combined (noise + eyes + face_space)   0.685 0.690 0.694 0.684 0.663
    CLIP face-crop probe alone                     0.645 0.642 0.649 0.638 0.639
    stacked, CLIP weight 0.3 / 0.5 / 0.7           0.663 / 0.651 / 0.639 on orig (lower on every construction)

Like the dlib descriptor, the CLIP embedding separates the StyleGAN faces (sg3 0.79, tpdne 0.78 in
the stack) and not the SD 2.1 portraits (0.53-0.56): it adds nothing the face_space cue does not
already give. A linear probe on the WHOLE photo's CLIP embedding (224 px centre crop) did worse,
0.54 (the real sets' own styles dominate when a generator is held out).

The encoder's inner blocks (``--blocks``: the class token and the mean of the patch tokens after
each of the 12 blocks, clip_faces.features, one probe per part, L2 300), measured 2026-12-02 (orig /
jpeg60 / r400 / crop / phone): class tokens 0.62-0.72 on the originals (best after block 6: 0.718
0.667 0.712 0.722 0.682), patch means 0.53-0.71 (best after block 8: 0.711 0.696 0.711 0.707
0.672); the final embedding 0.645. On face swaps the same inner blocks lift the probe (DeepFaceLive
0.84 -> 0.87-0.89: training/train_faceswap_clip.py); on ID photos no block comes near the 0.90 target,
and the best is about the shipped model's level, so none was added."""
import argparse, sys, json, time
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "training"))
import train_idphoto as T
from detectors import faceswap_signals as S
from detectors.faces import new_face_mesh
from detectors.models import clip_faces
from detectors.folds import fold_of
OUT = ROOT / "out" / "idphoto" / "clip_face_emb.npz"
BLOCKS_OUT = ROOT / "out" / "idphoto" / "clip_face_blocks.npz"
ap = argparse.ArgumentParser(description="CLIP face-crop probes on the ID photos (not shipped)")
ap.add_argument("--blocks", action="store_true", help="one probe per inner block's class token and patch mean instead")
ARGS = ap.parse_args()
NAMES = tuple(f"{kind}{k}" for kind in ("cls", "patch") for k in range(1, clip_faces.BLOCKS + 1))
if ARGS.blocks:
    OUT = BLOCKS_OUT
items = T.items(with_frames=True)
faces = T.faces(items, workers=1)
conds = T.CONDITIONS
if OUT.is_file():
    d = np.load(OUT, allow_pickle=True); E = d["E"]; paths = list(d["paths"])
else:
    mesh = new_face_mesh(static=True, max_faces=1)
    paths = [it.path for it in items]
    E = np.full((len(items), len(conds), len(NAMES) * 768 if ARGS.blocks else 512), np.nan, np.float16 if ARGS.blocks else np.float32)
    t0 = time.time()
    for i, it in enumerate(items):
        f = faces.get(it.path)
        if not f or "error" in f:
            continue
        crops, ok = [], []
        for j, (_c, rgb, _box, _lm) in enumerate(T.constructions(it, f, conds)):
            rgb = np.ascontiguousarray(rgb)
            res = mesh.process(rgb)
            if not res.multi_face_landmarks:
                continue
            h, w = rgb.shape[:2]
            pts = np.array([(p.x * w, p.y * h) for p in res.multi_face_landmarks[0].landmark], np.float32)
            crops.append(S.aligned_crop(rgb, pts, 192)[0]); ok.append(j)
        if ok:
            E[i, ok] = clip_faces.features(np.stack(crops), NAMES) if ARGS.blocks else clip_faces.embed(np.stack(crops))
        if i % 100 == 0: print(i, len(items), round(time.time() - t0), flush=True)
    np.savez(OUT, E=E, paths=np.array(paths))
feats = T.features(items, workers=1)
t = T.table(items, feats)
idx = {p: i for i, p in enumerate(paths)}
Et = np.stack([E[idx[p]] for p in t.paths])
y = t.labels; g = t.groups
folds = np.array([fold_of(x) for x in g])
scores, _ = T.oof_scores(t, folds)
base = scores["combined"]


def oof_probe(F: np.ndarray, l2: float) -> dict[str, np.ndarray]:
    return T.oof_construction_probe(F, y, folds, l2)


if ARGS.blocks:
    for j, name in enumerate(NAMES):
        part = oof_probe(Et[..., j * 768:(j + 1) * 768].astype(np.float32), 300.0)
        print(name, {c: round(T.auc(part[c], y), 3) for c in conds}, flush=True)
    sys.exit(0)
clip = oof_probe(Et, 30.0)  # CLIP probe OOF (trained on all constructions of the training folds)
print("base ", {c: round(T.auc(base[c], y), 3) for c in conds})
print("clip ", {c: round(T.auc(clip[c], y), 3) for c in conds})
# stack: z by training-fold reals, weight nested
for w in (0.3, 0.5, 0.7):
    st = {}
    for c in conds:
        s = np.full(len(y), np.nan)
        for k in range(5):
            tr = (folds != k) & (y == 0)
            zb = (base[c] - np.nanmean(base[c][tr])) / np.nanstd(base[c][tr])
            cc = np.where(np.isnan(clip[c]), np.nanmean(clip[c][tr]), clip[c])
            zc = (cc - np.nanmean(clip[c][tr])) / np.nanstd(clip[c][tr])
            s[folds == k] = (w * zc + (1 - w) * zb)[folds == k]
        st[c] = s
    print("stack w", w, {c: round(T.auc(st[c], y), 3) for c in conds},
          {G: round(T.auc(st["orig"][(y == 0) | (np.array(g) == G)], y[(y == 0) | (np.array(g) == G)]), 3) for G in ("sdfd", "sg3", "tpdne", "morph")})
