"""Which per-clip measure of the mouth's darkness should become a lipsync risk part? Chosen out of fold.

Candidates, per clip with audio (bench/lipsync_cache.py's tracks with the check's observed mouth
darkness, the engine's audio features):

* ``dark_peak``: the pooled peak of the darkness's own lag curves against the voice
  (``SyncEstimate.appearance_peak``, the shipped tight-mouth measure);
* ``dark_margin``: the same over its chance level (the voice reversed);
* ``lm_margin``: the landmark opening's peak over its chance level;
* ``dark_lm_corr``: the correlation between the darkness and the landmark opening;
* ``vp_dark``: voice_predictability with the darkness in place of the landmark opening.

Each candidate becomes a part as the driven mouth is (0 up to the median of the real clips, full
at their highest + 0.10, times 0.45) beside the lipsync risk the check gives without it; per
held-out fold the candidate with the best AUC (re-voiced + audio-driven fakes against real clips)
on the other folds (their bars nested: from the folds other than theirs and the held-out one) is
taken, and the held-out fold scored with bars from the other folds.

    uv run python bench/lipsync_tight.py [--media ../shared/media]

Measured (2-core machine, caches of cache version 2; the risk beside the part uses the shipped
driven-mouth bars, where bench/lipsync_bench.py takes them from the other folds): four folds
chose ``dark_peak``, one ``dark_margin``; lipsync risk AUC re-voiced 0.789 -> 0.854, audio-driven
0.836 -> 0.851, all 0.822 -> 0.852, no real clip at >= 0.5. In-sample, each measure alone
(re-voiced / audio-driven / all): dark_peak 0.917 / 0.469 / 0.602; dark_margin 0.797 / 0.664 /
0.704; lm_margin 0.693 / 0.695 / 0.694; dark_lm_corr 0.573 / 0.434 / 0.475; vp_dark 0.848 / 0.589
/ 0.659. The shipped part (dark_peak) with the bench's own out-of-fold bars: 0.880 / 0.842 / 0.853.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detectors import lipsync as ls  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402
from lipsync_bench import audio_of, auc, check  # noqa: E402
from lipsync_cache import cached_track, speaking_rows  # noqa: E402

CANDIDATES = ("dark_peak", "dark_margin", "lm_margin", "dark_lm_corr", "vp_dark")
MARGIN = 0.10
WEIGHT = 0.45


def measures(track, audio) -> dict[str, float]:
    sig = ls.build_signals(track, audio, (track.mouth_dark_t, track.mouth_dark) if track.mouth_dark.size >= ls.APPEARANCE_MIN_SAMPLES else None)
    if sig.appearance is None:
        return {}
    out = {"vp_dark": ls.voice_predictability(replace(sig, mouth_raw=sig.appearance), audio.mel_db)}
    m = sig.face & np.isfinite(sig.appearance) & np.isfinite(sig.mouth)
    out["dark_lm_corr"] = float(np.corrcoef(sig.appearance[m], sig.mouth[m])[0, 1]) if m.sum() > 50 else float("nan")
    e0 = ls.estimate_offset(replace(sig, appearance=None), 1.0)
    e1 = ls.estimate_offset(replace(sig, mouth=sig.appearance, appearance=None), 1.0)
    out["lm_margin"] = e0.peak_corr - e0.chance_peak if e0 else float("nan")
    out["dark_margin"] = e1.peak_corr - e1.chance_peak if e1 else float("nan")
    out["dark_peak"] = e1.peak_corr if e1 else float("nan")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    args = ap.parse_args()
    media = Path(args.media)
    clips = {}  # name -> (label, kind, fold, base risk, measures)
    keep = ls.TIGHT_WEIGHT
    ls.TIGHT_WEIGHT = 0.0  # the risk without the part (its bars do not matter then)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for r in speaking_rows(media):
                man = (r.get("manipulation") or "").lower()
                kind = "rv" if ("lipsync" in man or "hyperlips" in man) else ("ad" if "talking-head" in man else "")
                if r["label"] == "fake" and not kind:
                    continue
                src = media / r["path"]
                fold = fold_of(group_key(r.get("group"), r.get("source"), r["path"]))
                track = cached_track(src)
                audio = audio_of(src, f"{src.resolve()}|{src.stat().st_mtime}|0")
                clips[src.name] = (r["label"], kind, fold, check(track, audio, fold, "xcorr").risk, measures(track, audio))
    finally:
        ls.TIGHT_WEIGHT = keep
    # note: the driven-mouth bars here are the shipped ones (the bench takes them from the other folds)

    def risks(name: str, test: list[str], exclude: set[int]) -> dict[str, float]:
        out = {}
        for c in test:
            lab, _, k, base, f = clips[c]
            train = [clips[cc][4][name] for cc in clips if clips[cc][0] == "real" and clips[cc][2] != k
                     and clips[cc][2] not in exclude and math.isfinite(clips[cc][4].get(name, float("nan")))]
            v = f.get(name, float("nan"))
            if not train or not math.isfinite(v):
                out[c] = base
                continue
            ok, bad = float(np.median(train)), float(np.max(train)) + MARGIN
            out[c] = max(base, WEIGHT * min(1.0, max(0.0, (v - ok) / (bad - ok))))
        return out

    def aucs(rs: dict[str, float]) -> tuple[float, float, float]:
        real = [v for c, v in rs.items() if clips[c][0] == "real"]
        rv = [v for c, v in rs.items() if clips[c][0] == "fake" and clips[c][1] == "rv"]
        ad = [v for c, v in rs.items() if clips[c][0] == "fake" and clips[c][1] == "ad"]
        return auc(rv, real), auc(ad, real), auc(rv + ad, real)

    names = list(clips)
    for name in CANDIDATES:
        real = [clips[c][4][name] for c in names if clips[c][0] == "real" and math.isfinite(clips[c][4].get(name, float("nan")))]
        a = [auc([clips[c][4][name] for c in names if clips[c][0] == "fake" and (k is None or clips[c][1] == k)
                  and math.isfinite(clips[c][4].get(name, float("nan")))], real) for k in ("rv", "ad", None)]
        print(f"{name:14s} alone, in-sample: AUC re-voiced {a[0]:.3f}, audio-driven {a[1]:.3f}, all {a[2]:.3f}")
    final: dict[str, float] = {}
    for k in sorted({clips[c][2] for c in names}):
        train = [c for c in names if clips[c][2] != k]
        scored = {name: aucs(risks(name, train, {k}))[2] for name in CANDIDATES}
        best = max(CANDIDATES, key=lambda n: scored[n])
        if scored[best] <= aucs({c: clips[c][3] for c in train})[2]:
            best = None
        test = [c for c in names if clips[c][2] == k]
        final.update(risks(best, test, set()) if best else {c: clips[c][3] for c in test})
        print(f"fold {k}: {best or 'no part'} (other folds' AUC {scored[best] if best else float('nan'):.3f})")
    b, a = aucs({c: clips[c][3] for c in names}), aucs(final)
    print(f"lipsync risk AUC, before: re-voiced {b[0]:.3f}, audio-driven {b[1]:.3f}, all {b[2]:.3f}")
    print(f"with the part chosen out of fold: re-voiced {a[0]:.3f}, audio-driven {a[1]:.3f}, all {a[2]:.3f}; "
          f"real clips at >= 0.5: {sum(v >= 0.5 for c, v in final.items() if clips[c][0] == 'real')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
