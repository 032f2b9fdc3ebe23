"""Probe: identity stability within a recording (dlib embeddings of the cached aligned crops).

A live swap renders each frame's face from the face model independently of the last: its
identity may wander more (or, drawn from one face model, less) than a real face's. Per recording,
on up to PER_FILE cached BIG_PX crops (training/faceswap_crops.py; the face is the middle half):
dlib 128-d embeddings, then the median distance of each embedding to the recording's median
embedding (spread) and the median distance between consecutive samples (step), and the same
normalised by the spread of the head pose (yaw from the landmarks is not cached, so the raw
values are reported). Writes ``out/faceswap_probe/identity.json``.

Usage: uv run python training/probe_faceswap_identity.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.faces import embed_face  # noqa: E402

NET = ROOT / "out" / "faceswap_net"
OUT = ROOT / "out" / "faceswap_probe" / "identity.json"
PER_FILE = 20


def main() -> None:
    files = json.loads((NET / "files.json").read_text())
    out = {}
    for f in files:
        if f["kind"] != "video":
            continue
        d = np.load(NET / "crops" / f"{f['id']}.npz")
        big = d["big"]
        if len(big) < 3:
            continue
        keep = np.linspace(0, len(big) - 1, min(PER_FILE, len(big))).round().astype(int)
        side = big.shape[1]
        box = (int(side * 0.22), int(side * 0.22), int(side * 0.78), int(side * 0.84))
        emb = [embed_face(np.ascontiguousarray(big[i]), box) for i in keep]
        emb = np.array([e for e in emb if e is not None])
        if len(emb) < 3:
            continue
        centre = np.median(emb, 0)
        out[f["path"]] = {"spread": float(np.median(np.linalg.norm(emb - centre, axis=1))),
                          "step": float(np.median(np.linalg.norm(np.diff(emb, axis=0), axis=1))),
                          "max": float(np.max(np.linalg.norm(emb - centre, axis=1)))}
    OUT.write_text(json.dumps(out))
    print(f"{len(out)} files -> {OUT}")


if __name__ == "__main__":
    main()
