"""Benchmark of the face-swap check: grouped out-of-fold figures of the learned model, and its cost.

OOF table (default): every labelled dev video's run-time crops (cached by
``training/faceswap_crops.py`` under out/faceswap_net/crops: the main face of every 3rd analysed
frame at 15 fps, aligned exactly as the detector aligns it) are scored with onnxruntime by the
fold model that never saw the file's group (``out/folds/faceswap_net_fold<k>.onnx``, fold =
``detectors.folds.fold_of(group_key(...))``). Printed per family (DeepFaceLive, GHOST,
FaceForensics/DFDC, generated talking heads) and overall, against all real recordings:
frame-level AUC, recording-level AUC (the aggregate the detector uses), the DeepFaceLive pairs
(swap half above its own real half), real recordings at risk >= 0.5 (each scored with its fold's
centre, chosen from the other folds' real recordings only), and whether a hand-made signal adds
to the model: a grouped-CV logistic stack of [model, signal] against the model alone.

Cost (``--timing FILE...``): the check alone in the real pipeline; ms per analysed frame of
the check (observe + analyze), and the check's time against plain decoding.

Usage: uv run python bench/faceswap_bench.py [--folds out/folds] [--json OUT] [--timing FILE...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402
from detectors.folds import N_FOLDS  # noqa: E402

CROPS = ROOT / "out" / "faceswap_net"
FAMILIES = ("DeepFaceLive", "GHOST", "FaceForensics/DFDC", "talking-head")
BLINK_BASE_PER_MIN = 5.0
CROP_KEYS = {96: "net", 160: "wide"}
"""The cached run-time crop (training/faceswap_crops.py) for a model's aligned crop side."""


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _logits(sess: Any, crops: np.ndarray) -> np.ndarray:
    if not len(crops):
        return np.zeros(0, np.float32)
    name = sess.get_inputs()[0].name
    out = [sess.run(None, {name: np.ascontiguousarray(crops[i : i + 64].transpose(0, 3, 1, 2), dtype=np.float32)})[0][:, 0]
           for i in range(0, len(crops), 64)]
    return np.concatenate(out)


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """L2 logistic regression by Newton steps; x gets a bias column."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        g = xb.T @ (p - y) + l2 * np.r_[w[:-1], 0]
        h = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.diag(np.r_[np.ones(len(w) - 1), 0])
        w -= np.linalg.solve(h, g)
    return w


def stack_auc(rec: list[dict[str, Any]], signal: str) -> tuple[float, float, int]:
    """Grouped-CV AUC of logistic([model]) and logistic([model, signal]) over recordings that have
    the signal: both fitted on the other folds' recordings, scored on the fold's."""
    rows = [r for r in rec if np.isfinite(r.get(signal, np.nan))]
    if len(rows) < 10:
        return float("nan"), float("nan"), len(rows)
    y = np.array([r["y"] for r in rows], float)
    folds = np.array([r["fold"] for r in rows])
    base = np.array([[r["score"]] for r in rows])
    both = np.array([[r["score"], r[signal]] for r in rows])
    out = []
    for x in (base, both):
        mu, sd = x.mean(0), x.std(0) + 1e-9
        x = (x - mu) / sd
        pred = np.full(len(y), np.nan)
        for k in range(N_FOLDS):
            tr, te = folds != k, folds == k
            if te.any() and len(set(y[tr])) == 2:
                w = _logistic_fit(x[tr], y[tr])
                pred[te] = np.hstack([x[te], np.ones((te.sum(), 1))]) @ w
        out.append(S.auc(pred[y == 1], pred[y == 0]))
    return out[0], out[1], len(rows)


def oof_table(folds_dir: Path) -> dict[str, Any]:
    files = json.loads((CROPS / "files.json").read_text())
    sessions = {k: _session(folds_dir / f"faceswap_net_fold{k}.onnx") for k in range(N_FOLDS)}
    metas = {k: json.loads((folds_dir / f"faceswap_net_fold{k}.json").read_text()) for k in range(N_FOLDS)}
    pct = float(metas[0]["aggregate_percentile"])
    inp = metas[0].get("input", {})
    aligned_px, input_px = int(inp.get("aligned_px", 96)), int((inp.get("shape") or [None, 3, 72, 72])[2])
    key = CROP_KEYS[aligned_px]
    rec: list[dict[str, Any]] = []
    frames: dict[str, np.ndarray] = {}
    t_net, n_net = 0.0, 0
    for f in files:
        if f["kind"] != "video" or f["family"] not in FAMILIES + ("real", "lipsync"):
            continue
        d = np.load(CROPS / "crops" / f"{f['id']}.npz")
        if not len(d[key]):
            continue
        t0 = time.perf_counter()
        z = _logits(sessions[f["fold"]], S.net_input(d[key], input_px))
        t_net += time.perf_counter() - t0
        n_net += len(z)
        frames[f["path"]] = z
        value = float(np.percentile(z, pct))
        m = metas[f["fold"]]
        risk = 1 / (1 + np.exp(-np.clip((value - m["decision_centre"]) / m["risk_width"], -30, 30)))
        blend = d["blend"][np.isfinite(d["blend"])]
        blinks, secs = int(d["blinks"]), float(d["blink_seconds"])
        expected = BLINK_BASE_PER_MIN * secs / 60
        rec.append({"path": f["path"], "family": f["family"], "fold": f["fold"], "y": int(f["label"] == "fake"),
                    "score": value, "risk": float(risk), "n": len(z),
                    "blend": float(np.median(blend)) if blend.size else float("nan"),
                    # blink deficit: expected minus seen, per expected (NaN when too short to judge)
                    "blink": (expected - blinks) / expected if expected >= 1.0 else float("nan")})
    real = [r for r in rec if r["family"] == "real"]
    rows = []
    groups = {fam: [r for r in rec if r["family"] == fam] for fam in FAMILIES}
    groups["overall"] = [r for fam in FAMILIES for r in groups[fam]]
    groups["lipsync (other check; not trained on)"] = [r for r in rec if r["family"] == "lipsync"]
    fr_real = np.concatenate([frames[r["path"]] for r in real])
    for name, fakes in groups.items():
        if not fakes:
            continue
        fr_fake = np.concatenate([frames[r["path"]] for r in fakes])
        rows.append({"family": name, "n_fake": len(fakes), "n_real": len(real),
                     "frames_fake": int(fr_fake.size), "frames_real": int(fr_real.size),
                     "frame_auc": S.auc(fr_fake, fr_real),
                     "video_auc": S.auc([r["score"] for r in fakes], [r["score"] for r in real]),
                     "caught_at_0.5": sum(r["risk"] >= 0.5 for r in fakes)})
    by_path = {r["path"]: r for r in rec}
    pairs = [(r, by_path.get(r["path"].replace("_swap.mp4", "_real.mp4"))) for r in groups["DeepFaceLive"]]
    pairs = [(a, b) for a, b in pairs if b is not None]
    train_rec = [r for r in rec if r["family"] in FAMILIES + ("real",)]
    stacks = {sig: stack_auc(train_rec, sig) for sig in ("blend", "blink")}
    return {"rows": rows, "recordings": rec,
            "dfl_pairs": {"n": len(pairs), "swap_above_real": sum(a["score"] > b["score"] for a, b in pairs)},
            "real_high": [(r["path"], round(r["risk"], 3)) for r in real if r["risk"] >= 0.5], "n_real": len(real),
            "real_risk_max": max(r["risk"] for r in real), "real_risk_p95": float(np.percentile([r["risk"] for r in real], 95)),
            "stacks": stacks, "ms_per_crop_batched": 1000 * t_net / max(1, n_net)}


def print_oof(t: dict[str, Any]) -> None:
    print("Out-of-fold (grouped 5-fold; each file scored by the fold model that never saw its group)")
    print(f"{'family':40s} {'fakes':>5s} {'reals':>5s} {'frames f/r':>11s} {'frame AUC':>9s} {'video AUC':>9s} {'risk>=0.5':>9s}")
    for r in t["rows"]:
        print(f"{r['family']:40s} {r['n_fake']:5d} {r['n_real']:5d} {r['frames_fake']:5d}/{r['frames_real']:<5d} "
              f"{r['frame_auc']:9.3f} {r['video_auc']:9.3f} {r['caught_at_0.5']:4d}/{r['n_fake']:<4d}")
    p = t["dfl_pairs"]
    print(f"DeepFaceLive pairs, swap half scored above its own real half: {p['swap_above_real']}/{p['n']}")
    print(f"real recordings with face-swap risk >= 0.5: {len(t['real_high'])} of {t['n_real']} {t['real_high']}; "
          f"max real risk {t['real_risk_max']:.3f}, 95th percentile {t['real_risk_p95']:.3f}")
    for sig, (a, b, n) in t["stacks"].items():
        verdict = "adds" if b > a + 0.01 else "does not add"
        print(f"hand-made signal '{sig}': model alone {a:.3f}, model + {sig} {b:.3f} (grouped-CV stack, n={n}): {verdict}")
    print(f"model cost, batched crops of 64 (onnxruntime, 1 thread): {t['ms_per_crop_batched']:.2f} ms a crop")


def timing(paths: list[str]) -> None:
    from detectors import registry
    from detectors.faceswap import FaceSwapDetector
    from detectors.media import decode_only
    from detectors.pipeline import analyze_recording

    registry.recording_detectors = lambda: [FaceSwapDetector]  # time this check alone
    analyze_recording(paths[0])  # warm: models loaded
    for p in paths:
        t0 = time.perf_counter()
        decode_only(p)
        t_dec = time.perf_counter() - t0
        res = analyze_recording(p)
        n = res.track.frames_analysed if res.track is not None else 0
        check = res.timings_s.get("observe", 0) + res.timings_s.get("faceswap", 0)
        f = res.findings.get("faceswap")
        print(f"{Path(p).name}: {n} analysed frames, face-swap check {1000 * check / max(1, n):.2f} ms per analysed frame "
              f"(observe {res.timings_s.get('observe', 0):.3f} s, analyze {res.timings_s.get('faceswap', 0):.3f} s), "
              f"check / plain decode {check / max(1e-6, t_dec):.2f}x; risk {f.risk if f else float('nan'):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", default=str(ROOT / "out" / "folds"))
    ap.add_argument("--json")
    ap.add_argument("--timing", nargs="*", help="media to time the check on (instead of the OOF table)")
    args = ap.parse_args()
    if args.timing:
        timing(args.timing)
        return
    if not (CROPS / "files.json").exists():
        sys.exit("no cached crops: run `uv run python training/faceswap_crops.py` and the training first")
    t = oof_table(Path(args.folds))
    print_oof(t)
    if args.json:
        Path(args.json).write_text(json.dumps(t, indent=1, default=float))


if __name__ == "__main__":
    main()
