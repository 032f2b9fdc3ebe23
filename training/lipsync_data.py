"""Inputs of the lip-sync model for every clip with speech in ../shared/media, written once.

Run in the app's environment (it needs the engine's audio features: Silero VAD and the log-mel):

    uv run python training/lipsync_data.py [--media ../shared/media]

For every video with audio in manifest.csv and manifest_more.csv (real and fake), the face track
comes from bench/lipsync_cache.py's cache (computed if missing) and the audio from the engine's
timestamp-placed decode (detectors.media.stream_audio + AudioFeatureExtractor). Written to
``out/lipsync_train/<stem>.npz``: the grid, the mouth features and face mask, the audio
features, the voice activity on the grid, and the manifest fields (label, group, fold).
training/train_lipsync_net.py reads these files (training environment: NumPy + PyTorch only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from detectors.audio import AudioFeatureExtractor  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402
from detectors.media import stream_audio  # noqa: E402
from detectors.models.lipsync_net import audio_features, audio_grid, mouth_features  # noqa: E402
from lipsync_cache import cached_track, speaking_rows  # noqa: E402

OUT = ROOT / "out" / "lipsync_train"


def clip_inputs(path: Path, track, shift_s: float = 0.0) -> dict[str, np.ndarray]:
    """Model inputs of one clip; ``shift_s`` delays the audio (a shifted copy by construction:
    its features are those of the audio moved ``shift_s`` later on the clip's clock)."""
    ex = AudioFeatureExtractor()
    for c in stream_audio(path):
        ex.push(c.samples, c.t)
    audio = ex.finish()
    times = audio.times + shift_s
    grid = audio_grid(times)
    a = audio_features(audio.mel_db)
    k = 2
    voiced = audio.voiced[: grid.size * k].reshape(-1, k).any(axis=1)
    v, face = mouth_features(track.times, track.landmarks, grid)
    return {"grid": grid, "video": v, "face": face, "audio": a, "voiced": voiced}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    args = ap.parse_args()
    media = Path(args.media)
    OUT.mkdir(parents=True, exist_ok=True)
    for r in speaking_rows(media):
        path = media / r["path"]
        track = cached_track(path)
        d = clip_inputs(path, track)
        group = group_key(r.get("group"), r.get("source"), r["path"])
        np.savez(OUT / f"{path.stem}.npz", **d, label=r["label"], group=group, fold=fold_of(group), path=r["path"],
                 manipulation=r.get("manipulation", ""))
        both = d["face"] & d["voiced"]
        print(f"{r['path']:50s} {r['label']:5s} fold {fold_of(group)} steps {d['grid'].size:5d} speech+face {both.mean():.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
