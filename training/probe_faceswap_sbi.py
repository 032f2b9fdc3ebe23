"""Probe: the net's response to a self-blend of the recording's own face, as a per-recording cue.

Idea: normalise the model within the recording. A real face, self-blended
(:func:`detectors.faceswap_signals.self_blend`), gains a seam the model was trained to see, so its
logit rises; a face that is already pasted may rise less (it already carries a seam and a
re-rendered texture). The cue is the rise: median logit of self-blended crops minus the median
logit of the plain crops, each scored by the fold model that never saw the file's group
(``out/folds/faceswap_net_fold<k>.onnx``). Reads the cached BIG_PX crops and their landmarks
(training/faceswap_crops.py); the self-blend is made on the BIG_PX crop, shrunk to the run-time
96 px crop like the training pool, seeded per file. Writes ``out/faceswap_probe/sbi.json``.

Usage: uv run python training/probe_faceswap_sbi.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import faceswap_signals as S  # noqa: E402

NET = ROOT / "out" / "faceswap_net"
FOLDS = ROOT / "out" / "folds"
OUT = ROOT / "out" / "faceswap_probe" / "sbi.json"
PER_FILE = 20
BLENDS = 2


def session(path: Path):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=o, providers=["CPUExecutionProvider"])


def logits(sess, crops96: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(S.net_input(crops96).transpose(0, 3, 1, 2), dtype=np.float32)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0][:, 0]


def main() -> None:
    cv2.setNumThreads(1)
    files = json.loads((NET / "files.json").read_text())
    sess = {k: session(FOLDS / f"faceswap_net_fold{k}.onnx") for k in range(5)}
    out = {}
    for f in files:
        if f["kind"] != "video":
            continue
        d = np.load(NET / "crops" / f"{f['id']}.npz")
        big, lm = d["big"], d["lm"].astype(np.float32)
        if len(big) < 3:
            continue
        keep = np.linspace(0, len(big) - 1, min(PER_FILE, len(big))).round().astype(int)
        rng = np.random.default_rng(int.from_bytes(hashlib.sha1(f["path"].encode()).digest()[:4], "big"))
        plain, blended = [], []
        for i in keep:
            plain.append(cv2.resize(big[i], (S.NET_PX, S.NET_PX), interpolation=cv2.INTER_AREA))
            for _ in range(BLENDS):
                blended.append(cv2.resize(S.self_blend(big[i], lm[i], rng), (S.NET_PX, S.NET_PX), interpolation=cv2.INTER_AREA))
        s = sess[f["fold"]]
        lp = logits(s, np.stack(plain))
        lb = logits(s, np.stack(blended)).reshape(len(keep), BLENDS)
        out[f["path"]] = {"plain": lp.tolist(), "blend": lb.tolist()}
    OUT.write_text(json.dumps(out))
    print(f"{len(out)} files -> {OUT}")


if __name__ == "__main__":
    main()
