"""Probe: do the DeepFaceLive-specific hand cues add to the shipped CNN + CLIP combination?

Recomputes, exactly as training/train_faceswap_clip.py does (its functions, read only; cached CLIP
embeddings), the grouped out-of-fold CLIP probe score and the combined CNN + CLIP score of every
file, then stacks the combined score with per-recording cues of training/probe_faceswap_stack.py
(training/probe_faceswap_dfl.py, probe_faceswap_identity.py) in its grouped-OOF logistic model.

Measured (2 Dec 2026; AUC DeepFaceLive / GHOST / FF++-DFDC / talking heads / overall, real
recordings at risk >= 0.5 with fold bars from the other folds): combined score alone
0.781/0.974/0.840/0.862/0.818, 2 of 78; + Lab-b chroma spread 0.780/0.991/0.872/0.845/0.814, 2;
+ identity spread 0.799/1.000/0.801/0.856/0.827, 0; + both 0.795/1.000/0.821/0.841/0.820, 2; one-sided
versions no better; as a second channel (max) 0.763/1.000/0.846/0.861/0.809, 7. The identity spread's
+0.02 on DeepFaceLive is inside the seed spread of the CNN alone (0.554-0.595) and costs
FF++/DFDC and talking heads: not shipped.

Usage: uv run python training/probe_faceswap_clipstack.py --sets comb comb,h-:b_sd_in_ring ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

import probe_faceswap_stack as P  # noqa: E402
import train_faceswap_clip as C  # noqa: E402


def combined_oof() -> dict[str, dict[str, float]]:
    files = json.loads((C.CROPS / "files.json").read_text())
    emb = C.embeddings(files)
    y = np.array([f["label"] == "fake" for f in files], int)
    folds = np.array([f["fold"] for f in files])
    train = np.array([bool(f["train"]) for f in files])
    video = np.array([f["family"] != "real-photo" for f in files])
    real = np.array([f["family"] == "real" for f in files])
    has = np.array([emb[f["id"]].shape[0] > 0 for f in files])
    sn = C.net_scores(files)
    sc = np.full(len(files), np.nan)
    for k in range(C.N_FOLDS):
        rows = [i for i in np.where((folds != k) & train & has)[0]]
        model = C.fit_logistic(np.concatenate([emb[files[i]["id"]] for i in rows]),
                               np.concatenate([np.full(emb[files[i]["id"]].shape[0], y[i]) for i in rows]))
        for i in np.where((folds == k) & has)[0]:
            sc[i] = float(np.median(C.probe_logits(model, emb[files[i]["id"]])))
    sn_f = np.where(np.isnan(sn), np.nanmedian(sn[real]), sn)
    fam = np.array([f["family"] for f in files])
    comb = np.full(len(files), np.nan)
    for k in range(C.N_FOLDS):
        out_k = folds != k
        un, uc = C.units(sn_f, out_k & real), C.units(sc, out_k & real)
        ok = out_k & video & train & ~np.isnan(sc)

        def macro(w: float) -> float:
            c = C.combine(sn_f, sc, w, un, uc)
            return float(np.mean([C.auc(c[m], y[m]) for fm in C.FAMILIES for m in [ok & (real | (fam == fm))] if (m & (y == 1)).any()]))

        w = max(C.WEIGHTS, key=lambda w: (macro(w), -abs(w - 0.5)))
        comb[folds == k] = C.combine(sn_f, sc, w, un, uc)[folds == k]
    return {f["path"]: {"comb": float(comb[i]), "clip": float(sc[i])} for i, f in enumerate(files)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", nargs="*", default=["comb"])
    args = ap.parse_args()
    files, feats = P.load()
    for path, v in combined_oof().items():
        if path in feats:
            feats[path].update({k: x for k, x in v.items() if np.isfinite(x)})
    print(f"{'features':44s} " + " ".join(f"{f[:6]:>6s}" for f in P.FAMILIES) + "  overall pairs  dflown real>=.5")
    for s in args.sets:
        r = P.evaluate(files, feats, s.replace("|", ",|,").split(","))
        print(P.line(s, r), r["real_high"])


if __name__ == "__main__":
    main()
