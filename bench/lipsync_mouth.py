"""Study: a "generated mouth" part for the lipsync risk from frozen CLIP ViT-B/16 features of a few
RGB face crops per clip (linear probe), out of fold, grouped.

Step 1 (``--extract``): for every video of out/faceswap_net/files.json except the photos (real
videos, the re-voiced 'lipsync' family, the talking heads, the face swaps), CROPS_PER_FILE of its
192 px aligned RGB crops (``big``, the face-swap recipe's, evenly spread over its first 20 s) are
run through the encoder twice: the whole aligned face, and the lower face (LOWER_BOX of the aligned
crop: nose tip to below the chin, cheek to cheek). From each run are kept the final embedding, the
pooled class token, and after every block the class token, the mean of all patch tokens and the
mean of the mouth's patch tokens (MOUTH_ROWS x MOUTH_COLS of the 14 x 14 grid), each a unit vector
(out/lipsync_mouth/feat_<id>.npz, float16).

Step 2 (default): per outer fold k, for each candidate (crop, feature, L2), a probe (the project's
fit_logistic: standardised, balanced, L2) is fitted on the other folds' files, crops as samples,
fakes of TRAIN_FAMILIES against every real video; a clip's score is the median of its crops'
logits. The candidate is chosen by nested selection: inner grouped folds over the training folds
only, best mean of the re-voiced and the audio-driven AUC against the real clips with audio.
The held-out fold is then scored by the chosen probe refitted on all its training folds.

    uv run python bench/lipsync_mouth.py --extract     # ~4 min nice'd on 2 cores
    uv run python bench/lipsync_mouth.py --scan [--extra-swaps] [--blocks 4 7 9 10 12]
    uv run python bench/lipsync_mouth.py [--menu broad|concat] [--concat-block 7] --swap-choice --l2 300 1000 --dump OUT.json
    uv run python bench/lipsync_mouth.py --combine BENCH_TXT OUT.json  # the lipsync risk with the part (offline)

Results (27 fakes: 8 re-voiced, 19 audio-driven; 24 real clips with audio; AUC of the probe score).
Scan, plain out of fold, L2 300, NOT selection-free (every row is looked at): the whole face's
class tokens read the audio-driven fakes best (cls7 0.961, cls9 0.971; final embedding 0.934) but
the re-voiced ones poorly (0.63-0.76); the mouth's patch tokens read the re-voiced ones best
(face_mouth7 0.911, mouth9 0.880) and the audio-driven well (0.88-0.90); the lower-face crop's
class token cls7 0.976 audio-driven. With the face swaps as extra positives: lower-face features
gain on re-voiced (lower_mouth10 0.922, lower_pooled 0.891), whole-face ones lose.
Nested (outer folds never seen by the choice), through the lipsync risk by --combine from the
bench's printed parts (before: all 0.853, re-voiced 0.883 at 2-decimal ties, audio-driven 0.841):
* broad menu (26 candidates x L2 x swaps): picks differ by fold; probe 0.766 / 0.886 / 0.850
  (re-voiced / audio-driven / all); risk 0.844 / 0.917 / 0.895.
* class token + mouth patches of one block (crop, L2, swaps chosen; menu narrowed after the broad
  run): block 7 probe 0.875 / 0.941 / 0.921, risk 0.896 / 0.978 / 0.954; block 9 0.844 / 0.945 /
  0.915, risk 0.880 / 0.934 / 0.918; block 10 0.964 / 0.925 / 0.937, risk 0.885 / 0.928 / 0.915.
The recipe (training/train_lipsync_mouth.py) chooses among the pairs of blocks 7, 9 and 10.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

OUT = ROOT / "out" / "lipsync_mouth"
CROPS = ROOT / "out" / "faceswap_net"
MEDIA = ROOT.parent / "shared" / "media"
CROPS_PER_FILE = 8
LOWER_BOX = (44, 86, 148, 190)
"""x0, y0, x1, y1 in the 192 px aligned crop (eyes at y ~78, 70 px apart; lips y ~122-142; chin ~165)."""
MOUTH_ROWS = (8, 12)
MOUTH_COLS = (5, 9)
"""Patch grid rows/cols (half-open) of the mouth in the whole-face run (a patch ~13.7 px of the 192 px crop)."""
LOWER_MOUTH_ROWS = (3, 10)
LOWER_MOUTH_COLS = (3, 11)
"""...and in the lower-face run (the lower-face crop's middle)."""

from train_lipsync_mouth import DRIVEN, REVOICED, SWAPS, auc, video_files  # noqa: E402  (the recipe's data and AUC)
from train_lipsync_mouth import with_audio as bench_paths  # noqa: E402


def hidden_run(crops: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> dict[str, np.ndarray]:
    from detectors.models import clip_faces as cf

    sess = cf._hidden_encoder()
    wanted = ["image_embeds", cf.POOLED_OUTPUT, *cf.HIDDEN_OUTPUTS.values()]
    out = dict(zip(wanted, sess.run(wanted, {"pixel_values": cf.encoder_input(crops)})))
    feats = {"embed": cf._unit(out["image_embeds"]), "pooled": cf._unit(out[cf.POOLED_OUTPUT])}
    for k, name in cf.HIDDEN_OUTPUTS.items():
        h = out[name]
        grid = h[:, 1:].reshape(len(crops), 14, 14, -1)
        feats[f"cls{k}"] = cf._unit(h[:, 0])
        feats[f"patch{k}"] = cf._unit(h[:, 1:].mean(axis=1))
        feats[f"mouth{k}"] = cf._unit(grid[:, rows[0]:rows[1], cols[0]:cols[1]].mean(axis=(1, 2)))
    return feats


def extract(files: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for n, f in enumerate(files):
        dst = OUT / f"feat_{f['id']}.npz"
        if dst.exists():
            continue
        big = np.load(CROPS / "crops" / f"{f['id']}.npz")["big"]
        if len(big) == 0:
            np.savez(dst, empty=np.zeros(0))
            continue
        idx = np.unique(np.linspace(0, len(big) - 1, CROPS_PER_FILE).round().astype(int))
        crops = big[idx]
        x0, y0, x1, y1 = LOWER_BOX
        lower = np.ascontiguousarray(crops[:, y0:y1, x0:x1])
        a = hidden_run(crops, MOUTH_ROWS, MOUTH_COLS)
        b = hidden_run(lower, LOWER_MOUTH_ROWS, LOWER_MOUTH_COLS)
        np.savez(dst, **{f"face_{k}": v.astype(np.float16) for k, v in a.items()}, **{f"lower_{k}": v.astype(np.float16) for k, v in b.items()})
        print(f"  {n + 1}/{len(files)} {f['path']} ({time.time() - t0:.0f} s)", flush=True)


N_FOLDS = 5


def load_features(files: list[dict], names: list[str]) -> dict[str, list[np.ndarray]]:
    """name -> per file (n crops, d) float32 (empty when the file had no face)."""
    out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for f in files:
        z = np.load(OUT / f"feat_{f['id']}.npz")
        for n in names:
            out[n].append(z[n].astype(np.float32) if n in z.files else np.zeros((0, 1), np.float32))
    return out


def concat(feats: dict[str, list[np.ndarray]], parts: tuple[str, ...]) -> list[np.ndarray]:
    return [np.concatenate([feats[p][i] for p in parts], axis=1) if all(feats[p][i].size for p in parts) else np.zeros((0, 1), np.float32)
            for i in range(len(feats[parts[0]]))]


def oof_scores(x: list[np.ndarray], y: np.ndarray, folds: np.ndarray, trainable: np.ndarray, l2: float,
               fold_set: list[int], score_mask: np.ndarray) -> np.ndarray:
    """Median-logit clip scores, each held-out fold (of ``fold_set``) scored by a probe fitted on the
    trainable files of the other folds of ``fold_set``."""
    from train_faceswap_clip import fit_logistic, probe_logits

    s = np.full(len(x), np.nan)
    for k in fold_set:
        rows = [i for i in range(len(x)) if trainable[i] and folds[i] in fold_set and folds[i] != k and x[i].size]
        xt = np.concatenate([x[i] for i in rows])
        yt = np.concatenate([np.full(len(x[i]), y[i]) for i in rows])
        model = fit_logistic(xt, yt, l2)
        for i in np.where((folds == k) & score_mask)[0]:
            if x[i].size:
                s[i] = float(np.median(probe_logits(model, x[i])))
    return s


def aucs(s: np.ndarray, fam: np.ndarray, bench: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    real = s[mask & bench & (fam == "real")]
    rv, dr = s[mask & bench & (fam == REVOICED)], s[mask & bench & (fam == DRIVEN)]
    return auc(rv, real), auc(dr, real), auc(np.concatenate([rv, dr]), real)


MOUTH_WEIGHT = 0.45
"""Share of the generated-mouth part that counts (as every other appearance part: alone it asks for a review)."""


def combine(bench_txt: Path, dump: Path, weight: float = MOUTH_WEIGHT) -> None:
    """The lipsync risk of bench/lipsync_bench.py's rows (its printed out-of-fold risk and parts)
    with the generated-mouth part added (its nested out-of-fold score, bars from the other folds'
    real clips: 0 up to their median, full at their highest + one spread)."""
    d = json.loads(dump.read_text())["rows"]
    rows = []
    grab = False
    for line in bench_txt.read_text().splitlines():
        if line.startswith("clip") and "label" in line and "risk" in line:
            grab = True
            continue
        if grab:
            if not line.strip() or line.startswith("AUC"):
                break
            name, label, risk = line.split()[:3]
            rows.append((name, label, float(risk), line[70:]))
    print(f"{'clip':34s} {'label':5s} {'before':>6s} {'score':>6s} {'part':>5s} {'after':>5s}")
    out = []
    for name, label, risk, rest in rows:
        r = d.get(name)
        part = 0.0
        if r is not None and np.isfinite(r["score"]):
            part = float(np.clip((r["score"] - r["ok"]) / (r["bad"] - r["ok"]), 0, 1)) * weight
        out.append((name, label, risk, max(risk, part), rest))
        print(f"{name:34s} {label:5s} {risk:6.2f} {r['score'] if r else float('nan'):+6.2f} {part:5.2f} {max(risk, part):5.2f}  {rest[-40:].strip()[:40]}")
    real_b = np.array([b for _, lab, b, _, _ in out if lab == "real"])
    real_a = np.array([a for _, lab, _, a, _ in out if lab == "real"])
    for kind, test in (("re-voiced", lambda m: "lipsync" in m.lower() or "hyperlips" in m.lower()),
                       ("audio-driven", lambda m: "talking-head" in m.lower()),
                       ("all", lambda m: "lipsync" in m.lower() or "talking-head" in m.lower())):
        fb = np.array([b for _, lab, b, _, m in out if lab == "fake" and test(m)])
        fa = np.array([a for _, lab, _, a, m in out if lab == "fake" and test(m)])
        print(f"AUC {kind:13s} before {auc(fb, real_b):.3f} after {auc(fa, real_a):.3f} ({fb.size} fakes, {real_b.size} real)")
    print(f"real clips >= 0.5: before {int((real_b >= 0.5).sum())}, after {int((real_a >= 0.5).sum())}; highest real "
          f"before {real_b.max():.2f}, after {real_a.max():.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--extract", action="store_true")
    ap.add_argument("--extra-swaps", action="store_true", help="the face swaps as training positives too")
    ap.add_argument("--scan", action="store_true", help="every candidate's plain out-of-fold AUC (no selection)")
    ap.add_argument("--menu", default="broad", choices=("broad", "concat"))
    ap.add_argument("--concat-block", type=int, default=7)
    ap.add_argument("--swap-choice", action="store_true", help="nested: also choose whether the face swaps join the positives")
    ap.add_argument("--l2", type=float, nargs="+", default=[300.0])
    ap.add_argument("--blocks", type=int, nargs="+", default=[4, 6, 7, 8, 9, 10, 11, 12])
    ap.add_argument("--dump", default="", help="write the nested-selected out-of-fold scores here (json)")
    ap.add_argument("--combine", nargs=2, metavar=("BENCH_TXT", "DUMP_JSON"), help="the lipsync risk with the part added")
    ap.add_argument("--weight", type=float, default=MOUTH_WEIGHT)
    args = ap.parse_args()
    if args.combine:
        combine(Path(args.combine[0]), Path(args.combine[1]), args.weight)
        return 0
    files = video_files()
    if args.extract:
        extract(files)
        return 0
    fam = np.array([f["family"] for f in files])
    y = np.array([f["label"] == "fake" for f in files], int)
    folds = np.array([f["fold"] for f in files])
    bp = bench_paths()
    bench = np.array([f["path"] in bp for f in files])
    base_pos = (fam == "real") | np.isin(fam, (REVOICED, DRIVEN))
    with_swaps = base_pos | np.isin(fam, SWAPS)
    cands: list[tuple[str, tuple[str, ...]]] = []
    if args.scan:
        for crop in ("face", "lower"):
            cands += [(f"{crop}_embed", (f"{crop}_embed",)), (f"{crop}_pooled", (f"{crop}_pooled",))]
            for kind in ("cls", "patch", "mouth"):
                cands += [(f"{crop}_{kind}{b}", (f"{crop}_{kind}{b}",)) for b in args.blocks]
    elif args.menu == "concat":  # a post-hoc smaller menu (after the first nested run): class token + mouth patches
        b = args.concat_block
        cands += [(f"{crop}_cls{b}+mouth{b}", (f"{crop}_cls{b}", f"{crop}_mouth{b}")) for crop in ("face", "lower")]
    else:  # the nested menu, fixed before the held-out folds are looked at
        for crop in ("face", "lower"):
            cands += [(f"{crop}_{n}", (f"{crop}_{n}",)) for n in ("embed", "cls7", "cls9", "cls10", "mouth7", "mouth9")]
            cands += [(f"{crop}_cls7+mouth7", (f"{crop}_cls7", f"{crop}_mouth7"))]
    names = sorted({p for _, ps in cands for p in ps})
    feats = load_features(files, names)
    xs = {c: concat(feats, ps) for c, ps in cands}
    everything = np.ones(len(files), bool)
    all_folds = list(range(N_FOLDS))
    swap_opts = [True] if args.extra_swaps else ([False, True] if args.swap_choice else [False])
    print(f"files {len(files)}; bench: real {int((bench & (fam == 'real')).sum())}, re-voiced {int((bench & (fam == REVOICED)).sum())}, "
          f"audio-driven {int((bench & (fam == DRIVEN)).sum())}; face swaps as positives {swap_opts}; L2 {args.l2}", flush=True)
    if args.scan:
        trainable = with_swaps if args.extra_swaps else base_pos
        print(f"{'candidate':20s} {'l2':>6s} {'re-voiced':>9s} {'driven':>7s} {'all':>6s}")
        for c, _ in cands:
            for l2 in args.l2:
                s = oof_scores(xs[c], y, folds, trainable, l2, all_folds, everything)
                a = aucs(s, fam, bench, everything)
                print(f"{c:20s} {l2:6g} {a[0]:9.3f} {a[1]:7.3f} {a[2]:6.3f}", flush=True)
        return 0
    # nested: per outer fold, choose (candidate, l2, positives) on the other folds' inner out-of-fold scores
    chosen_scores = np.full(len(files), np.nan)
    bars = {}
    picks = {}
    for k in all_folds:
        inner = [j for j in all_folds if j != k]
        best, best_v = None, -1.0
        inner_scores = {}
        for c, _ in cands:
            for l2 in args.l2:
                for sw in swap_opts:
                    s = oof_scores(xs[c], y, folds, with_swaps if sw else base_pos, l2, inner, everything)
                    a = aucs(s, fam, bench, folds != k)
                    v = float(np.nanmean([a[0], a[1]]))
                    inner_scores[(c, l2, sw)] = s
                    if v > best_v:
                        best, best_v = (c, l2, sw), v
        c, l2, sw = best
        s_out = oof_scores(xs[c], y, folds, with_swaps if sw else base_pos, l2, all_folds, folds == k)  # fold k by a probe on all other folds
        chosen_scores[folds == k] = s_out[folds == k]
        real_in = inner_scores[best][(folds != k) & (fam == "real")]
        real_in = real_in[np.isfinite(real_in)]
        bars[k] = (float(np.median(real_in)), float(real_in.max() + real_in.std()))
        picks[k] = (c, l2, sw, best_v)
        print(f"outer fold {k}: chose {c} L2 {l2:g} swaps {sw} (inner mean AUC {best_v:.3f}); bars {bars[k][0]:+.2f} .. {bars[k][1]:+.2f}", flush=True)
    a = aucs(chosen_scores, fam, bench, everything)
    print(f"nested out-of-fold probe score AUC: re-voiced {a[0]:.3f}, audio-driven {a[1]:.3f}, all {a[2]:.3f}")
    if args.dump:
        rows = {Path(f["path"]).name: {"family": fam[i], "fold": int(folds[i]), "score": float(chosen_scores[i]),
                                        "ok": bars[int(folds[i])][0], "bad": bars[int(folds[i])][1]}
                for i, f in enumerate(files) if bench[i]}
        Path(args.dump).write_text(json.dumps({"picks": {str(k): v for k, v in picks.items()}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
