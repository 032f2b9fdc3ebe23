"""How far above its own chance level must the mouth/voice correlation peak be to be judged?
Chosen out of fold, grouped.

For every real clip with speech and its copies with the audio shifted by -300, +200 and +400 ms
(bench/lipsync_bench.py's rows, from its caches), the check runs once per candidate value of
``lipsync.CHANCE_MARGIN_FULL``. Then, per fold (detectors.folds, by the manifests' group), the
value is chosen on the *other* folds' rows: among the margins whose judged shifted copies are at
least ``PRECISION`` within 80 ms of the clip's own reading + shift (a copy judged while its clip's
own reading is not counts as a miss: nothing vouches for it), the one with the most right minus
wrong judged copies (the smaller margin on a tie): judging more rows is worth it only while the
rows it adds are mostly right. The held-out
fold is scored with that value. Printed: every value's in-sample figures, the value each fold
chose, and the out-of-fold judged share and share within 80 ms.

    uv run python bench/lipsync_margin.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detectors import lipsync as ls  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402
from lipsync_bench import MIN_SPEECH_S, SHIFTS_MS, TOLERANCE_MS, audio_of, check, offset_of, shifted_copy  # noqa: E402
from lipsync_cache import CACHE_DIR, cached_track, speaking_rows  # noqa: E402

MARGINS = (0.01, 0.02, 0.03, 0.05, 0.07, 0.10, 0.15, 0.20)
PRECISION = 0.90


def figures(rows: list[tuple[str, int, int, float | None]]) -> tuple[int, int, int]:
    """(shifted copies, judged, within 80 ms of own + shift; unverified judged copies are misses)."""
    own = {c: o for c, _f, s, o in rows if s == 0}
    shifted = [(c, s, o) for c, _f, s, o in rows if s != 0]
    judged = [(c, s, o) for c, s, o in shifted if o is not None]
    hits = sum(1 for c, s, o in judged if own.get(c) is not None and abs(o - own[c] - s) <= TOLERANCE_MS)
    return len(shifted), len(judged), hits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    args = ap.parse_args()
    media = Path(args.media)
    inputs = []  # (clip, fold, shift, track, audio)
    with tempfile.TemporaryDirectory(prefix="lipsync_margin_") as tmp:
        for r in speaking_rows(media):
            if r["label"] != "real":
                continue
            src = media / r["path"]
            fold = fold_of(group_key(r.get("group"), r.get("source"), r["path"]))
            track = cached_track(src)
            base = audio_of(src, f"{src.resolve()}|{src.stat().st_mtime}|0")
            if (check(track, base, fold, "xcorr").evidence.get("speech_seconds") or 0.0) < MIN_SPEECH_S:
                continue
            for shift in SHIFTS_MS:
                key = f"{src.resolve()}|{src.stat().st_mtime}|{shift}"
                if shift and not (CACHE_DIR / f"audio_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz").exists():
                    shifted_copy(src, Path(tmp) / f"{src.stem}_shift{shift:+d}.mkv", shift / 1000.0)
                a = base if shift == 0 else audio_of(Path(tmp) / f"{src.stem}_shift{shift:+d}.mkv", key)
                inputs.append((src.name, fold, shift, track, a))
    keep = ls.CHANCE_MARGIN_FULL
    by_margin: dict[float, list[tuple[str, int, int, float | None]]] = {}
    try:
        for m in MARGINS:
            ls.CHANCE_MARGIN_FULL = m
            by_margin[m] = [(c, f, s, offset_of(check(tr, a, f, "xcorr"))) for c, f, s, tr, a in inputs]
    finally:
        ls.CHANCE_MARGIN_FULL = keep
    print(f"Chance margin, in-sample over {len({c for c, *_ in inputs})} real clips (shifted copies; unverified judged copies count as misses)")
    for m, rows in by_margin.items():
        n, j, h = figures(rows)
        print(f"  margin {m:.2f}: judged {j}/{n} ({j / n:.0%}), within 80 ms {h}/{j} ({h / max(j, 1):.0%})")
    folds = sorted({f for _, f, *_ in inputs})
    tot_n = tot_j = tot_h = 0
    print("Out of fold (value chosen on the other folds):")
    for k in folds:
        chosen, best = MARGINS[-1], None
        for m in MARGINS:  # on the other folds: most right minus wrong readings, at the precision
            n, j, h = figures([r for r in by_margin[m] if r[1] != k])
            if j and h / j >= PRECISION and (best is None or h - (j - h) > best):
                chosen, best = m, h - (j - h)
        n, j, h = figures([r for r in by_margin[chosen] if r[1] == k])
        tot_n, tot_j, tot_h = tot_n + n, tot_j + j, tot_h + h
        print(f"  fold {k}: margin {chosen:.2f}: judged {j}/{n}, within 80 ms {h}/{j}")
    print(f"  all folds: judged {tot_j}/{tot_n} ({tot_j / max(tot_n, 1):.0%}), within 80 ms {tot_h}/{tot_j} ({tot_h / max(tot_j, 1):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
