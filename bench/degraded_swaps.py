"""Do the face-swap figures hold when the live swaps arrive as a video call delivers them?

Every DeepFaceLive pair of ../shared/media/manifest_more.csv (the swapped half and its own real
input, same frames, same compression) is re-encoded by construction the way a low-bandwidth call
re-encodes it: scaled by SCALE, H.264 at CRF (libx264 through PyAV, the same frame rate), labels and
groups kept. The copies and their manifest go to out/degraded/ (never into the repository); then

    uv run python bench/degraded_swaps.py                 # make the copies and the manifest
    uv run telltale eval out/degraded/manifest.csv --cv group --fold-models out/folds

scores them out of fold: a copy falls in its original's fold (same group), so the fold models
that score it never saw its footage, compressed or not. Compare the eval's DeepFaceLive rows
with those of the originals.

Measured 2026-12-02 (scale 0.75, CRF 32: the 454 x 330 halves become 340 x 246; 37 swaps and
their 37 real inputs; face-swap risk of the same files through the app, originals from the
session's full eval): AUC 0.783 -> 0.663; swaps above their own real input 35 -> 32 of 37; swaps
at risk >= 0.5 4 -> 2, real inputs 2 -> 1 (Nicola_Badge_1_real, 0.92); median risk of the swaps
0.13 -> 0.07, of the real inputs 0.02 -> 0.03. The check loses a good part of its reading of live
swaps when the call's own compression is added: a limit to say, and the next data to train on.

Measured 2026-12-03 with the rebuilt face-swap probe (pooled-small selection; everything rebuilt
from scratch), AUC over the same 37 pairs (swaps against their own real inputs): 0.813 -> 0.737;
swaps above their own real input 34 -> 30 of 37; swaps at risk >= 0.5 6 -> 2, real inputs 1 -> 2
(Nicola_Badge_1_real 0.93, Nicola_Badge_2_real 0.51); median risk of the swaps 0.18 -> 0.07, of
the real inputs 0.02 -> 0.02.

Measured 2026-12-03 with the probe chosen by the AUC of all fakes (pooled selection) on the
corrected labels (Nicola_Badge_2_real is a swap, detectors/evaluation/label_corrections.csv; 36
pairs): AUC against their own real inputs 0.929 as recorded -> 0.801 as a call; swaps above their
own real input 35 -> 34 of 36; swaps at risk >= 0.5 3 as a call, real inputs 1 (Nicola_Badge_1_real,
0.73).

``--reals`` instead re-encodes every REAL recording of both manifests the same way (out/degraded_reals/):
does a real candidate on a poor call get accused? (The copies carry no audio: the lip-sync and voice
checks do not judge them.) Measured 2026-12-03 (pooled probe, corrected labels; 77 real recordings,
75 judged): none called likely-fake, 1 at face-swap risk >= 0.5 as recorded and as a call
(Nicola_Badge_1_real 0.79 -> 0.73); median risk 0.012 -> 0.009, 95th percentile 0.16 -> 0.11, 3 at
0.2 either way; one rose by more than 0.1 (Ben_Stiller_Owen_Wilson 0.07 -> 0.32). The call's
compression lowers the reading of swaps (above) without making real faces read as swapped.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "out" / "degraded"
sys.path.insert(0, str(ROOT))
from detectors.evaluation.manifests import corrected  # noqa: E402
SCALE = 0.75
CRF = 32


def degrade(src: Path, dst: Path, scale: float = SCALE, crf: int = CRF, max_seconds: float | None = None) -> None:
    """``src`` scaled by ``scale`` (even sizes) and re-encoded as H.264 at ``crf``; video only (its
    first ``max_seconds`` when given)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.stem + ".part" + dst.suffix)
    with av.open(str(src)) as inp, av.open(str(part), "w") as out:
        vin = inp.streams.video[0]
        w, h = max(16, int(vin.width * scale) // 2 * 2), max(16, int(vin.height * scale) // 2 * 2)
        rate = int(round(float(vin.average_rate or 30)))
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in inp.decode(vin):
            if max_seconds is not None and frame.time is not None and frame.time > max_seconds:
                break
            img = av.VideoFrame.from_ndarray(frame.to_ndarray(width=w, height=h, format="rgb24"), format="rgb24")
            for packet in vout.encode(img):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
    part.replace(dst)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", type=Path, default=MEDIA)
    ap.add_argument("--out", type=Path, default=None, help=f"default {OUT}, with --reals {OUT.with_name('degraded_reals')}")
    ap.add_argument("--reals", action="store_true", help="every real recording of both manifests instead of the DeepFaceLive pairs")
    args = ap.parse_args()
    args.out = args.out or (OUT.with_name("degraded_reals") if args.reals else OUT)
    names = ("manifest.csv", "manifest_more.csv") if args.reals else ("manifest_more.csv",)
    if not all((args.media / n).is_file() for n in names):
        print(f"no {' and '.join(names)} in {args.media}: nothing to degrade")
        return 0
    rows, fields, seen = [], [], set()
    for name in names:
        with (args.media / name).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = fields or list(reader.fieldnames or [])
            for given in reader:
                r, _ = corrected(given)  # this project's label corrections (a "real" that is a swap stays out of --reals)
                if r["kind"] != "video" or r["path"] in seen:
                    continue
                seen.add(r["path"])
                if (r["label"] == "real" if args.reals else
                        r["path"].startswith("video/dfl/") and r["path"].rsplit("_", 1)[-1] in ("real.mp4", "swap.mp4")):
                    rows.append({k: r.get(k, "") for k in fields})
    written = []
    for n, r in enumerate(rows):
        copy = str(Path(r["path"]).with_suffix(".mp4"))  # H.264 goes in MP4 whatever the original's container (webm, mov)
        dst = args.out / copy
        if not dst.is_file():
            degrade(args.media / r["path"], dst)
        written.append({**r, "path": copy, "source": f"{r['source']} (scaled {SCALE}, H.264 CRF {CRF})"})
        if n % 10 == 0:
            print(f"  {n + 1}/{len(rows)} {r['path']}", flush=True)
    with (args.out / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(written)
    print(f"{len(written)} copies and {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
