"""Probe: per-recording cues alone and stacked with the net's out-of-fold recording score.

Reads ``out/faceswap_net/files.json`` and the net's per-frame OOF logits
(``out/faceswap_net/oof_fold<k>.npz``, training/train_faceswap_net.py --part folds) and the
per-frame cues of training/probe_faceswap_dfl.py (``out/faceswap_probe/cues.json``). Per recording:
the median and the spread (std over sampled frames) of each cue, and the net's median logit and
its spread. Everything is grouped out of fold (detectors.folds): for fold k a small L2 logistic
model on standardised features is fitted on the other folds' recordings (real vs face swaps and
talking heads; lip-sync files never) and scores fold k. AUC per family against all real
recordings; real recordings at risk >= 0.5 with each fold's bar (CENTRE_QUANTILE of the other
folds' real OOF scores + CENTRE_MARGIN, as the net's) from the other folds' real recordings only.

Columns: AUC per family against all real recordings, overall, share of DeepFaceLive swaps above
their own real half, DeepFaceLive swaps against their own real halves only (the source-controlled
figure: a cue that only tells the DeepFaceLive demo footage from other footage stays near 0.5
there), real recordings at risk >= 0.5. ``a|b``: two channels (a on all fakes, b fitted on face
swaps only), merged by the larger excess over its real bar (or, ``--add-positive``, a plus b's
positive excess). ``h-:cue``/``h+:cue``: one-sided cue. Results (2 Dec 2026) are in
training/train_faceswap_net.py's docstring: nothing beat the net alone on DeepFaceLive without
losing on talking heads or FF++/DFDC.

Usage: uv run python training/probe_faceswap_stack.py [--singles] [--sets net net,b_sd_in_ring "net|b_sd_in_ring,id_spread" ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.faceswap_signals import auc  # noqa: E402

NET = ROOT / "out" / "faceswap_net"
PROBE = ROOT / "out" / "faceswap_probe"
FAMILIES = ("DeepFaceLive", "GHOST", "FaceForensics/DFDC", "talking-head")
N_FOLDS = 5
CENTRE_QUANTILE, CENTRE_MARGIN = 97.5, 0.5
L2 = 1.0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise, then Newton-fit an L2 logistic model, classes weighted equally."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    cw = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum())) * len(y)
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-z @ w))
        g = z.T @ (cw * (p - y)) + reg * w
        h = (z * (cw * p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mu, sd, w


def predict(model: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mu, sd, w = model
    return np.hstack([(x - mu) / sd, np.ones((len(x), 1))]) @ w


def load(oof_prefix: str = "oof_fold") -> tuple[list[dict], dict[str, dict[str, float]]]:
    files = [f for f in json.loads((NET / "files.json").read_text()) if f["kind"] == "video"]
    allfiles = json.loads((NET / "files.json").read_text())
    idx = {f["path"]: i for i, f in enumerate(allfiles)}
    frame: dict[int, np.ndarray] = {}
    for k in range(N_FOLDS):
        p = NET / f"{oof_prefix}{k}.npz"
        if p.exists():
            d = np.load(p)
            frame.update({int(n[1:]): d[n] for n in d.files})
    cues: dict[str, list[dict[str, float]]] = {}
    for name in ("cues.json", "chroma.json"):  # training/probe_faceswap_dfl.py --mode cues / chroma
        if (PROBE / name).exists():
            for path, rows in json.loads((PROBE / name).read_text()).items():
                cues.setdefault(path, []).append(rows)
    sbi = json.loads((PROBE / "sbi.json").read_text()) if (PROBE / "sbi.json").exists() else {}
    ident = json.loads((PROBE / "identity.json").read_text()) if (PROBE / "identity.json").exists() else {}
    feats: dict[str, dict[str, float]] = {}
    for f in files:
        row: dict[str, float] = {f"id_{k}": v for k, v in ident.get(f["path"], {}).items()}  # probe_faceswap_identity.py
        if f["path"] in sbi:  # training/probe_faceswap_sbi.py
            lp, lb = np.array(sbi[f["path"]]["plain"]), np.array(sbi[f["path"]]["blend"])
            row["sbi_plain"] = float(np.median(lp))
            row["sbi_blend"] = float(np.median(lb))
            row["sbi_rise"] = float(np.median(lb) - np.median(lp))
            row["sbi_rise_frame"] = float(np.median(lb.mean(1) - lp))
            row["sbi_rise_sd"] = float(np.std(lb.mean(1) - lp))
        lg = frame.get(idx[f["path"]])
        if lg is not None and lg.size >= 5:  # the logit against the head's turn, within the recording
            from detectors.faceswap_signals import pose_angles

            lm = np.load(NET / "crops" / f"{f['id']}.npz")["lm"].astype(np.float32)
            if len(lm) == lg.size:
                yaw = np.abs(pose_angles(lm)[0])
                if np.std(yaw) > 1e-6 and np.std(lg) > 1e-6:
                    row["net_yaw_corr"] = float(np.corrcoef(yaw, lg)[0, 1])
                    turned = yaw >= np.median(yaw)
                    row["net_yaw_gap"] = float(np.median(lg[turned]) - np.median(lg[~turned])) if (~turned).any() else 0.0
                    row["yaw_spread"] = float(np.std(yaw))
        if lg is not None and lg.size >= 3:
            row["net"] = float(np.median(lg))
            row["net_std"] = float(np.std(lg))
            row["net_iqr"] = float(np.subtract(*np.percentile(lg, [75, 25])))
            row["net_p90"] = float(np.percentile(lg, 90))
            row["net_step"] = float(np.median(np.abs(np.diff(lg))))
        for rows in cues.get(f["path"], []):
            if len(rows) < 3:
                continue
            for key in rows[0]:
                if key == "t":
                    continue
                v = np.array([r.get(key, np.nan) for r in rows], float)
                v = v[np.isfinite(v)]
                if v.size >= 3:
                    row[key] = float(np.median(v))
                    row[key + "_sd"] = float(np.std(v))
                    row[key + "_step"] = float(np.median(np.abs(np.diff(v))))
        feats[f["path"]] = row
    return files, feats


SWAPS = ("DeepFaceLive", "GHOST", "FaceForensics/DFDC")
ADD_POSITIVE = False
"""Two-channel merge: the larger of the two (False) or channel A plus channel B's excess over its bar (True)."""


def evaluate(files: list[dict], feats: dict[str, dict[str, float]], names: list[str], swaps_only: bool = False) -> dict:
    use = [f for f in files if f["label"] == "real" or f["family"] in FAMILIES]
    # a recording needs the first feature (the net's score when stacked); a missing cue takes the
    # training folds' mean (it then adds nothing), as the detector would fall back to the net alone
    if "|" in names:
        return evaluate_max(files, feats, names[: names.index("|")], names[names.index("|") + 1 :])
    # "h-:cue" / "h+:cue": one-sided (hinge) cue, only its distance below / above the training
    # folds' real median counts (evidence for a swap, never for a real face)
    raw = [n.split(":", 1)[-1] for n in names]
    use = [f for f in use if np.isfinite(feats[f["path"]].get(raw[0], np.nan))]
    x0 = np.array([[feats[f["path"]].get(n, np.nan) for n in raw] for f in use])
    y = np.array([0 if f["label"] == "real" else 1 for f in use])
    fold = np.array([f["fold"] for f in use])
    oof = np.full(len(use), np.nan)
    for k in range(N_FOLDS):
        tr, te = fold != k, fold == k
        if not te.any():
            continue
        x = x0.copy()
        for j, n in enumerate(names):
            if n[:3] in ("h-:", "h+:"):
                med = np.nanmedian(x0[tr & (y == 0), j])
                x[:, j] = np.maximum(0.0, (med - x0[:, j]) if n[1] == "-" else (x0[:, j] - med))
        if te.any():
            fill = np.nanmean(x[tr], axis=0)
            xk = np.where(np.isfinite(x), x, fill)
            fit = tr & (np.array([f["label"] == "real" or f["family"] in SWAPS for f in use]) if swaps_only else True)
            oof[te] = predict(fit_logistic(xk[fit], y[fit]), xk[te])
    real = y == 0
    res = {"n_real": int(real.sum())}
    for fam in FAMILIES:
        m = np.array([f["family"] == fam for f in use])
        res[fam] = auc(oof[m], oof[real])
    own = np.array([f["label"] == "real" and "/dfl/" in f["path"] and f["path"].endswith("_real.mp4") for f in use])
    res["dfl_own"] = auc(oof[np.array([f["family"] == "DeepFaceLive" for f in use])], oof[own])
    fakes = y == 1
    res["overall"] = auc(oof[fakes], oof[real])
    high = []
    for i in np.flatnonzero(real):
        others = oof[real & (fold != fold[i])]
        if oof[i] >= np.percentile(others, CENTRE_QUANTILE) + CENTRE_MARGIN:
            high.append(use[i]["path"])
    res["real_high"] = high
    by = {f["path"]: s for f, s in zip(use, oof)}
    pairs = [(by[f["path"]], by.get(f["path"].replace("_swap.mp4", "_real.mp4"))) for f in use if f["family"] == "DeepFaceLive"]
    pairs = [(a, b) for a, b in pairs if b is not None]
    res["pairs_above"] = float(np.mean([a > b for a, b in pairs])) if pairs else float("nan")
    res["oof"] = by
    return res


def evaluate_max(files: list[dict], feats: dict[str, dict[str, float]], a: list[str], b: list[str]) -> dict:
    """Two channels, each a grouped-OOF logistic model: A (the net) fitted on reals vs all fakes,
    B (swap cues) fitted on reals vs face swaps only; each expressed against its own bar (the
    training folds' real OOF scores' CENTRE_QUANTILE), the recording's score is the larger."""
    ra, rb = evaluate(files, feats, a), evaluate(files, feats, b, swaps_only=True)
    use = [f for f in files if f["path"] in ra["oof"]]
    sa = np.array([ra["oof"][f["path"]] for f in use])
    sb = np.array([rb["oof"].get(f["path"], np.nan) for f in use])
    y = np.array([0 if f["label"] == "real" else 1 for f in use])
    fold = np.array([f["fold"] for f in use])
    real = y == 0
    oof = np.full(len(use), np.nan)
    for k in range(N_FOLDS):
        te, tr = fold == k, (fold != k) & real
        za = (sa - np.percentile(sa[tr], CENTRE_QUANTILE)) / (np.std(sa[tr]) + 1e-9)
        zb = (sb - np.nanpercentile(sb[tr], CENTRE_QUANTILE)) / (np.nanstd(sb[tr]) + 1e-9)
        oof[te] = (np.fmax(za, zb) if not ADD_POSITIVE else za + np.fmax(0.0, np.nan_to_num(zb, nan=-1.0)))[te]
    res = {"n_real": int(real.sum())}
    for fam in FAMILIES:
        res[fam] = auc(oof[np.array([f["family"] == fam for f in use])], oof[real])
    own = np.array([f["label"] == "real" and "/dfl/" in f["path"] and f["path"].endswith("_real.mp4") for f in use])
    res["dfl_own"] = auc(oof[np.array([f["family"] == "DeepFaceLive" for f in use])], oof[own])
    res["overall"] = auc(oof[y == 1], oof[real])
    res["real_high"] = [use[i]["path"] for i in np.flatnonzero(real) if oof[i] >= 0.0]
    by = {f["path"]: v for f, v in zip(use, oof)}
    pairs = [(by[f["path"]], by.get(f["path"].replace("_swap.mp4", "_real.mp4"))) for f in use if f["family"] == "DeepFaceLive"]
    pairs = [(p, q) for p, q in pairs if q is not None]
    res["pairs_above"] = float(np.mean([p > q for p, q in pairs]))
    res["oof"] = by
    return res


def line(name: str, r: dict) -> str:
    return (f"{name:44s} " + " ".join(f"{r[f]:6.3f}" for f in FAMILIES) + f" {r['overall']:7.3f}"
            f" {r['pairs_above']:6.2f} {r['dfl_own']:6.3f} {len(r['real_high']):3d}/{r['n_real']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", nargs="*", default=None, help="feature sets, comma-separated names")
    ap.add_argument("--singles", action="store_true", help="every feature alone")
    ap.add_argument("--oof-prefix", default="oof_fold", help="the net's OOF logits (e.g. oof_chroma_fold for --pool-tag chroma)")
    ap.add_argument("--add-positive", action="store_true", help="two channels: A + max(0, B over its bar) instead of max(A, B)")
    args = ap.parse_args()
    global ADD_POSITIVE
    ADD_POSITIVE = args.add_positive
    files, feats = load(args.oof_prefix)
    names = sorted({k for r in feats.values() for k in r})
    print(f"{'features':44s} " + " ".join(f"{f[:6]:>6s}" for f in FAMILIES) + "  overall pairs  dflown real>=.5")
    if args.singles:
        for n in names:
            print(line(n, evaluate(files, feats, [n])))
    for s in args.sets or []:
        r = evaluate(files, feats, s.replace("|", ",|,").split(","))
        print(line(s, r), r["real_high"])


if __name__ == "__main__":
    main()
