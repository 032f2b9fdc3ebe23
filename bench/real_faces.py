"""Real dlib 128-d face embeddings from the shared media, for bench/library_bench.py's face-search recall.

    uv run python bench/real_faces.py [--media ../shared/media] [--frames 12] [--out out/store/real_faces.npz]

Every photo and still of the manifests (manifest.csv, manifest_more.csv, manifest_photos.csv)
and ``--frames`` frames spread evenly over every real video are run through the app's own photo
face path (``detectors.faces.faces_in_image``: dlib HOG detection, 5-point alignment, the dlib
ResNet embedding that the library stores); the largest face of each is kept. Video frames are
first scaled to at most 640 px on the longer side (detection time; the embedding is computed on
that frame).

Written (a cache, git-ignored): ``emb`` (N x 128 float32), ``item`` (the file each face came
from: all faces of one video are the same person), ``kind`` (photo / frame), ``group`` and
``identity`` (the manifests' columns), ``label``. Nothing here is copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MANIFESTS = ("manifest.csv", "manifest_more.csv", "manifest_photos.csv")
FRAME_MAX_SIDE = 640


def rows(media: Path) -> list[dict[str, str]]:
    out = []
    for name in MANIFESTS:
        p = media / name
        if p.exists():
            with p.open(newline="") as fh:
                out += list(csv.DictReader(fh))
    return out


def video_frames(path: Path, n: int) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
    frames = []
    for pos in np.linspace(0, max(0, total - 1), n + 2)[1:-1].astype(int) if total else []:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(pos))
        ok, bgr = cap.read()
        if not ok:
            continue
        h, w = bgr.shape[:2]
        k = min(1.0, FRAME_MAX_SIDE / max(h, w))
        if k < 1:
            bgr = cv2.resize(bgr, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA)
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    cap.release()
    return frames


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "out" / "store" / "real_faces.npz"))
    args = ap.parse_args(argv)
    from PIL import Image

    from detectors.faces import faces_in_image

    media = Path(args.media)
    emb, item, kind, group, identity, label = [], [], [], [], [], []
    t0 = time.time()
    todo = rows(media)
    for i, r in enumerate(todo):
        p = media / r["path"]
        if not p.exists():
            continue
        if r["kind"] == "image":
            images = [np.asarray(Image.open(p).convert("RGB"))]
        elif r["kind"] == "video" and r["label"] == "real":
            images = video_frames(p, args.frames)
        else:
            continue
        for rgb in images:
            faces = faces_in_image(rgb)
            if not faces:
                continue
            emb.append(faces[0].embedding)
            item.append(r["path"])
            kind.append("photo" if r["kind"] == "image" else "frame")
            group.append(r.get("group") or r.get("source", ""))
            identity.append(r.get("identity", ""))
            label.append(r["label"])
        if i % 50 == 0:
            print(f"{i}/{len(todo)} files, {len(emb)} faces, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, emb=np.array(emb, np.float32), item=np.array(item), kind=np.array(kind), group=np.array(group),
             identity=np.array(identity), label=np.array(label))
    print(f"{len(emb)} faces from {len(set(item))} files -> {out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
