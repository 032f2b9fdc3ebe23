"""Train the idphoto residual net: a small CNN on native-pixel patches of the face region's
high-pass residual, meant to learn a generator's up-sampling traces rather than the face.

Recipe (seeded; run from the repository root in the training venv, CPU, one thread: two threads ran 20x slower on the shared machine):

    uv run python training/train_idphoto.py --no-write       # app venv: finds the faces (out/idphoto/faces.json)
    .venv-train/bin/python training/train_idphoto_net.py prep   # crops + degraded copies (out/idphoto/net/)
    .venv-train/bin/python training/train_idphoto_net.py train [--write]

Data: the items of training/train_idphoto.py (manifest_photos.csv, the stills of manifest.csv and
manifest_more.csv, one frame of every real video), their faces from its cache. For each photo:

* the evaluation copies, made exactly as the feature model's (train_idphoto.construct: ``orig``,
  ``jpeg60``, ``r400``, ``crop``, ``phone``), of which only the test fold's are ever scored;
* N_AUG training copies, each a random degradation drawn from a seeded generator (JPEG 50-95,
  down-scaling 0.45-0.95 with a random filter, blur, a slight up-scaling, phone-screenshot style,
  double JPEG), so the net sees every photo under many histories and cannot lean on one.

The region read (detectors.photo_forensics.net_region: the face box grown by 15 %, at most 224 px
square, native pixels) is cut after the degradation, with the face box mapped through it.

Net (IdNet below): a fixed high-pass layer (per colour channel, the pixel minus its four
neighbours, and the horizontal and vertical second differences), clipped, then four small
convolutions, global average pooling, one logit per 32-px patch. A photo's logit is the mean over
its patches tiled side by side (detectors.photo_forensics.net_patches). Trained with Adam,
balanced classes, and within a class sources drawn in proportion to the square root of their size
(300 SD portraits do not drown 5 morphs); fixed number of steps, no early stopping on test data.

Result (run of 2026-12-02, these settings; 808 photos, grouped out-of-fold AUC generated vs real,
orig / jpeg60 / r400 / crop / phone): the net alone 0.537 / 0.648 / 0.578 / 0.538 / 0.594, and
weighed beside noise + eyes it lowered the combined figures (0.622 / 0.661 / 0.539 / 0.617 / 0.601
against 0.651 / 0.667 / 0.548 / 0.644 / 0.631), so it does NOT ship (train_idphoto.NET_RESULT):
the app runs it only when ``idphoto_net.onnx`` is present. Per generator it caught the StyleGAN2
faces it never saw (tpdne 0.61, the 1024-px stills 0.89) but not SD 2.1 (0.51), StyleGAN3 at
256 px (0.53) or the morphs (0.12). Twice the steps (``--steps 3000``; the last training losses were
0.60-0.67 per fold in both runs: patches carry little of the label): alone 0.563 / 0.630 / 0.595 / 0.560 / 0.582, weighed
beside noise + eyes 0.616 / 0.652 / 0.543 / 0.615 / 0.592, again lower. Cost: 2-3 minutes per
fold model on the shared 2-core machine (one thread); in the app about 13 ms a photo (49 patches).

Folds: detectors/folds.py on the manifest group, so a fold model never saw the generator or
source it scores. ``--write`` exports ``assets/models/idphoto_net.onnx`` (trained on everything)
and ``assets/models/idphoto_folds/idphoto_net_fold<k>.onnx`` (trained without fold k), which
detectors/models.model_path finds inside ``fold_models``; the out-of-fold logits go to
``out/idphoto/net/oof.json`` for ``training/train_idphoto.py --net`` to weigh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

import train_idphoto as T  # noqa: E402

from detectors import photo_forensics as pf  # noqa: E402
from detectors.folds import fold_of  # noqa: E402

NET_DIR = T.CACHE / "net"
N_AUG = 6
SEED = 1919
STEPS = 1500
BATCH = 32
LR = 2e-3
WEIGHT_DECAY = 1e-4
MODEL_NAME = "idphoto_net"


def _rng(name: str, k: int) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha1(f"{SEED}:{name}:{k}".encode()).digest()[:8], "big"))


def _resize_with(rgb: np.ndarray, k: float, interp: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(8, int(round(w * k))), max(8, int(round(h * k)))), interpolation=interp)


def degrade(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """One random degradation of a photo: (copy, scale applied to its geometry)."""
    import cv2

    kind = int(rng.integers(0, 6))
    k = 1.0
    x = rgb
    if kind == 0:  # plain re-save
        pass
    elif kind == 1:  # down-scaled by some tool
        k = float(rng.uniform(0.45, 0.95))
        x = _resize_with(x, k, [cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC][int(rng.integers(0, 3))])
    elif kind == 2:  # soft focus, then down-scaled
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.3, 1.2)))
        k = float(rng.uniform(0.6, 1.0))
        x = _resize_with(x, k, cv2.INTER_AREA)
    elif kind == 3:  # slightly up-scaled (a viewer or a print scan)
        k = float(rng.uniform(1.05, 1.4))
        x = _resize_with(x, k, [cv2.INTER_LINEAR, cv2.INTER_CUBIC][int(rng.integers(0, 2))])
    elif kind == 4:  # phone photo / screenshot
        return T.phone_style(rgb, rng)
    else:  # double JPEG
        x = pf.jpeg_roundtrip(x, int(rng.integers(50, 90)))
    return pf.jpeg_roundtrip(x, int(rng.integers(50, 96))), k


def _scaled_box(box: list[int], k: float) -> tuple[int, int, int, int]:
    return tuple(int(round(v * k)) for v in box)  # type: ignore[return-value]


def prep(workers: int = 1) -> None:
    """Crops of every photo: its evaluation constructions and N_AUG degraded copies (cached)."""
    from detectors.media import load_image

    NET_DIR.mkdir(parents=True, exist_ok=True)
    all_items = T.items()
    found = json.loads((T.CACHE / "faces.json").read_text())
    out_file = NET_DIR / "crops.npz"
    index = []
    arrays: dict[str, np.ndarray] = {}
    t0 = time.time()
    for n, it in enumerate(all_items):
        face = found.get(it.path)
        if not face or "error" in face:
            continue
        img = load_image(it.path, "id")
        rgb = np.ascontiguousarray(img.rgb[..., :3])
        box = tuple(face["box"])
        lm = {k: [tuple(p) for p in v] for k, v in face["landmarks"].items()}
        crops = {}
        for cond in T.CONDITIONS:
            c_rgb, b, _ = T.construct(cond, rgb, box, lm, it.path)
            crops[cond] = pf.net_region(c_rgb, b)
        for a in range(N_AUG):
            d, k = degrade(rgb, _rng(Path(it.path).name, a))
            crops[f"aug{a}"] = pf.net_region(d, _scaled_box(list(box), k))
        if crops["orig"] is None:
            continue
        key = f"i{len(index)}"
        for c, arr in crops.items():
            if arr is not None:
                arrays[f"{key}_{c}"] = arr
        index.append({"key": key, "path": it.path, "label": it.label, "group": it.group, "kind": it.kind})
        if (n + 1) % 100 == 0:
            print(f"  {n + 1}/{len(all_items)} {time.time() - t0:.0f}s", file=sys.stderr)
    np.savez(out_file, **arrays)
    (NET_DIR / "index.json").write_text(json.dumps(index))
    print(f"prepared {len(index)} photos in {time.time() - t0:.0f}s")


# --------------------------------------------------------------------------- the net


def build_net():
    import torch
    from torch import nn

    class HighPass(nn.Module):
        """Fixed residual filters per colour channel, clipped (the steganalysis 'truncation')."""

        def __init__(self) -> None:
            super().__init__()
            k = np.zeros((3, 3, 3), np.float32)
            k[0] = [[0, -0.25, 0], [-0.25, 1, -0.25], [0, -0.25, 0]]
            k[1] = [[0, 0, 0], [-0.5, 1, -0.5], [0, 0, 0]]
            k[2] = [[0, -0.5, 0], [0, 1, 0], [0, -0.5, 0]]
            w = np.zeros((9, 3, 3, 3), np.float32)
            for c in range(3):
                for j in range(3):
                    w[c * 3 + j, c] = k[j]
            self.register_buffer("w", torch.from_numpy(w))

        def forward(self, x):
            r = torch.nn.functional.conv2d(x, self.w)
            return torch.clamp(r / 4.0, -3.0, 3.0)

    def block(i: int, o: int, s: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class IdNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hp = HighPass()
            self.body = nn.Sequential(block(9, 16, 1), block(16, 24, 2), block(24, 32, 2), block(32, 48, 2))
            self.head = nn.Linear(48, 1)

        def forward(self, x):  # x: (N, 3, P, P), 0..255
            f = self.body(self.hp(x))
            return self.head(f.mean(dim=(2, 3)))[:, 0]

    return IdNet()


def load_data():
    index = json.loads((NET_DIR / "index.json").read_text())
    z = np.load(NET_DIR / "crops.npz")
    crops = {k: z[k] for k in z.files}
    return index, crops


def _family(group: str) -> str:
    return group.split(":")[0]


def train_one(index: list[dict], crops: dict[str, np.ndarray], train_idx: list[int], seed: int, steps: int = STEPS):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.15)
    # class -> family -> items; families drawn by sqrt(size)
    pools: dict[int, dict[str, list[int]]] = {0: {}, 1: {}}
    for i in train_idx:
        pools[index[i]["label"]].setdefault(_family(index[i]["group"]), []).append(i)
    fam_p = {}
    for c, fams in pools.items():
        names = sorted(fams)
        w = np.array([np.sqrt(len(fams[f])) for f in names])
        fam_p[c] = (names, w / w.sum())
    versions = ["orig"] + [f"aug{a}" for a in range(N_AUG)]
    P = pf.NET_PATCH
    net.train()
    t0 = time.time()
    losses = []
    for step in range(steps):
        xs, ys = [], []
        for b in range(BATCH):
            c = b % 2
            names, p = fam_p[c]
            fam = names[int(rng.choice(len(names), p=p))]
            i = pools[c][fam][int(rng.integers(len(pools[c][fam])))]
            key = f"{index[i]['key']}_{versions[int(rng.integers(len(versions)))]}"
            arr = crops.get(key)
            if arr is None:
                arr = crops[f"{index[i]['key']}_orig"]
            h, w = arr.shape[:2]
            y0, x0 = int(rng.integers(0, h - P + 1)), int(rng.integers(0, w - P + 1))
            patch = arr[y0:y0 + P, x0:x0 + P]
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            xs.append(patch)
            ys.append(c)
        x = torch.from_numpy(np.ascontiguousarray(np.stack(xs).transpose(0, 3, 1, 2)).astype(np.float32))
        y = torch.tensor(ys, dtype=torch.float32)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (step + 1) % 500 == 0:
            print(f"    step {step + 1}/{steps} loss {np.mean(losses[-500:]):.3f} {time.time() - t0:.0f}s", file=sys.stderr)
    net.eval()
    return net


def score(net, region: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float(net(torch.from_numpy(pf.net_patches(region))).mean())


def export(net, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(4, 3, pf.NET_PATCH, pf.NET_PATCH)
    torch.onnx.export(net, x, str(path), input_names=["patches"], output_names=["logits"],
                      dynamic_axes={"patches": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)


def train(write: bool, steps: int) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    index, crops = load_data()
    labels = np.array([it["label"] for it in index])
    folds = np.array([fold_of(it["group"]) for it in index])
    oof = {c: np.full(len(index), np.nan) for c in T.CONDITIONS}
    for k in range(5):
        tr = [i for i in range(len(index)) if folds[i] != k]
        te = [i for i in range(len(index)) if folds[i] == k]
        if not te:
            continue
        print(f"fold {k}: train {len(tr)}, test {len(te)} ({sorted(set(_family(index[i]['group']) for i in te if index[i]['kind'] == 'photo'))[:8]})", file=sys.stderr)
        net = train_one(index, crops, tr, SEED + k, steps)
        for i in te:
            for c in T.CONDITIONS:
                arr = crops.get(f"{index[i]['key']}_{c}")
                if arr is not None:
                    oof[c][i] = score(net, arr)
        if write:
            export(net, T.FOLD_DIR / f"{MODEL_NAME}_fold{k}.onnx")
        for c in ("orig", "jpeg60", "phone"):
            sel = folds == k
            print(f"    fold {k} {c}: AUC {T.auc(oof[c][sel], labels[sel]):.3f}", file=sys.stderr)
    (NET_DIR / "oof.json").write_text(json.dumps({"paths": [it["path"] for it in index], "steps": steps,
                                                  **{c: [None if np.isnan(v) else float(v) for v in oof[c]] for c in T.CONDITIONS}}))
    print("\nresidual net, GROUPED out-of-fold AUC generated vs real")
    print("".join(f"{c:>9}" for c in T.CONDITIONS))
    print("".join(f"{T.auc(np.where(np.isnan(oof[c]), np.nanmean(oof[c]), oof[c]), labels):>9.3f}" for c in T.CONDITIONS))
    fams = sorted(set(_family(it["group"]) for it in index))
    reals = labels == 0
    for f in fams:
        sel = np.array([_family(it["group"]) == f for it in index])
        if sel.sum() < 4 or labels[sel].mean() < 0.5:
            continue
        row = []
        for c in T.CONDITIONS:
            m = (sel | reals) & ~np.isnan(oof[c])
            row.append(T.auc(oof[c][m], labels[m]))
        print(f"  {f:<10} vs all reals " + "".join(f"{v:>7.3f}" for v in row))
    if write:
        final(steps)


def final(steps: int) -> None:
    """The shipped net, trained on every photo (the same recipe as the fold copies)."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    index, crops = load_data()
    net = train_one(index, crops, list(range(len(index))), SEED + 99, steps)
    export(net, T.MODELS / f"{MODEL_NAME}.onnx")
    print(f"wrote {T.MODELS / (MODEL_NAME + '.onnx')} (the fold copies are in {T.FOLD_DIR})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stage", choices=("prep", "train", "final"), help="train: the fold copies and their out-of-fold figures (--write: "
                    "export them and then the shipped net); final: only the shipped net")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--steps", type=int, default=STEPS)
    args = ap.parse_args()
    if args.stage == "prep":
        prep()
    elif args.stage == "final":
        final(args.steps)
    else:
        train(args.write, args.steps)


if __name__ == "__main__":
    main()
