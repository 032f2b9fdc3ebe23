"""Train the lip-sync model (two 1-D conv encoders, SyncNet spirit) on real clips only.

    uv run python training/lipsync_data.py                       # inputs, once (app environment)
    PYTHONPATH=. .venv-train/bin/python training/train_lipsync_net.py [--folds] [--steps 1500]

Data: the real clips with speech (manifest.csv + manifest_more.csv) as written by
training/lipsync_data.py. A clip's own audio is taken as in sync; shifted copies of the same audio
are the negatives. Each training example is a window of WINDOW_STEPS grid steps (1 s) where a face
is seen and speech is heard; the model embeds the lips and the voice per step and scores every lag
in +-MAX_LAG_STEPS as the mean cosine over the window. The loss is a cross-entropy over the lags
(lag 0 is right) plus, as further negatives, the other examples' voices at lag 0 (another
speaker's words do not fit these lips). Augmentation: feature noise, random per-band gain and
band masking on the log-mel, random scale of the mouth motion, lips and voice crops taken from
anywhere in the speech. Seeded; CPU only.

Writes ``assets/models/lipsync_net.onnx`` (all real clips) and, with ``--folds``,
``out/folds/lipsync_net_fold<k>.onnx`` trained without the clips of fold k
(detectors.folds.fold_of of the manifest group): nothing a fold model was fitted on is scored by it.
The inputs and outputs are those detectors/models/lipsync_net.py runs with onnxruntime.
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "out" / "lipsync_train"
SHIPPED = ROOT / "assets" / "models" / "lipsync_net.onnx"
FOLD_DIR = ROOT / "out" / "folds"

SEED = 13
WINDOW_STEPS = 50
"""Training window (grid steps of 20 ms): 1 s."""
MAX_LAG_STEPS = 50
"""Lags scored in training: +-1 s (the check searches as far)."""
CONTEXT_STEPS = 24
"""Context on both sides of a crop (>= half the receptive field)."""
MIN_SPEECH_SHARE = 0.5
"""A window needs this share of its steps with face and speech."""
CHANNELS = 32
EMBED = 16
BATCH = 32
LR = 2e-3
WEIGHT_DECAY = 1e-3
MOUTH_NOISE = 0.2
AUDIO_NOISE = 0.15
BAND_GAIN = 0.3
INPUT_DROPOUT = 0.2


def encoder(n_in: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = n_in
    for k, d in ((5, 1), (5, 2), (5, 4), (3, 8)):
        layers += [nn.Conv1d(c, CHANNELS, k, dilation=d, padding=d * (k - 1) // 2), nn.ReLU()]
        c = CHANNELS
    layers.append(nn.Conv1d(c, EMBED, 1))
    return nn.Sequential(*layers)


RECEPTIVE_FIELD_STEPS = 1 + 4 * 1 + 4 * 2 + 4 * 4 + 2 * 8


class SyncNet(nn.Module):
    def __init__(self, n_video: int, n_audio: int) -> None:
        super().__init__()
        self.video = nn.Sequential(nn.Dropout(INPUT_DROPOUT), encoder(n_video))
        self.audio = nn.Sequential(nn.Dropout(INPUT_DROPOUT), encoder(n_audio))
        self.log_scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ev = nn.functional.normalize(self.video(video), dim=1)
        ea = nn.functional.normalize(self.audio(audio), dim=1)
        return ev, ea


class Clips:
    """The real clips' windows that hold enough speech with a face in view."""

    def __init__(self, files: list[Path]) -> None:
        self.clips = []
        self.starts: list[tuple[int, int]] = []
        pad = MAX_LAG_STEPS + CONTEXT_STEPS
        for f in files:
            z = np.load(f, allow_pickle=False)
            v, face, a, voiced = z["video"], z["face"], z["audio"], z["voiced"]
            n = min(v.shape[0], a.shape[0])
            ok = face[:n] & voiced[:n]
            ci = len(self.clips)
            self.clips.append((np.nan_to_num(v[:n]).astype(np.float32), face[:n], a[:n].astype(np.float32), ok))
            csum = np.concatenate([[0], np.cumsum(ok)])
            for s in range(pad, n - WINDOW_STEPS - pad):
                if csum[s + WINDOW_STEPS] - csum[s] >= MIN_SPEECH_SHARE * WINDOW_STEPS:
                    self.starts.append((ci, s))
        if not self.starts:
            raise SystemExit("no training windows: run training/lipsync_data.py first")

    def batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        pick = rng.integers(len(self.starts), size=BATCH)
        vs, as_, ms = [], [], []
        for i in pick:
            ci, s = self.starts[i]
            v, face, a, ok = self.clips[ci]
            v0, v1 = s - CONTEXT_STEPS, s + WINDOW_STEPS + CONTEXT_STEPS
            a0, a1 = v0 - MAX_LAG_STEPS, v1 + MAX_LAG_STEPS
            vv = v[v0:v1] * rng.uniform(0.7, 1.3) + MOUTH_NOISE * rng.standard_normal((v1 - v0, v.shape[1]))
            vv[~face[v0:v1]] = 0.0
            aa = a[a0:a1] + rng.uniform(-BAND_GAIN, BAND_GAIN, (1, a.shape[1])) + AUDIO_NOISE * rng.standard_normal((a1 - a0, a.shape[1]))
            if rng.random() < 0.5:  # mask a few mel bands
                b0 = int(rng.integers(0, a.shape[1] - 6))
                aa[:, b0:b0 + int(rng.integers(2, 6))] = 0.0
            vs.append(vv.T)
            as_.append(aa.T)
            ms.append(ok[s:s + WINDOW_STEPS])
        return (torch.tensor(np.stack(vs), dtype=torch.float32), torch.tensor(np.stack(as_), dtype=torch.float32),
                torch.tensor(np.stack(ms), dtype=torch.float32))


def window_logits(model: SyncNet, video: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2L+1 + B-1): mean cosine over each window at every lag, then the other voices at lag 0."""
    ev, ea = model(video, audio)
    ev = ev[:, :, CONTEXT_STEPS:CONTEXT_STEPS + WINDOW_STEPS]  # (B, E, W)
    w = mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    span = ea[:, :, CONTEXT_STEPS:CONTEXT_STEPS + 2 * MAX_LAG_STEPS + WINDOW_STEPS]
    windows = span.unfold(2, WINDOW_STEPS, 1)  # (B, E, 2L+1, W): the voice at every lag
    own = (torch.einsum("bew,belw->blw", ev, windows) * w[:, None, :]).sum(dim=2)  # (B, 2L+1)
    s0 = CONTEXT_STEPS + MAX_LAG_STEPS
    aligned = ea[:, :, s0:s0 + WINDOW_STEPS]
    cross = torch.einsum("bew,cew->bcw", ev, aligned)
    cross = (cross * w[:, None, :]).sum(dim=2)  # (B, B): lips b with voice c at lag 0
    eye = torch.eye(cross.shape[0], dtype=torch.bool)
    others = cross[~eye].reshape(cross.shape[0], -1)
    return torch.cat([own, others], dim=1) * model.log_scale.exp()


def train(files: list[Path], steps: int, seed: int) -> tuple[SyncNet, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = Clips(files)
    nv, na = data.clips[0][0].shape[1], data.clips[0][2].shape[1]
    model = SyncNet(nv, na)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    target = torch.full((BATCH,), MAX_LAG_STEPS, dtype=torch.long)
    t0 = time.time()
    hist = []
    for step in range(steps):
        model.train()
        v, a, m = data.batch(rng)
        logits = window_logits(model, v, a, m)
        loss = nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(float(loss.detach()))
        if (step + 1) % 250 == 0:
            acc = float((logits[:, : 2 * MAX_LAG_STEPS + 1].argmax(dim=1) == MAX_LAG_STEPS).float().mean())
            print(f"  step {step + 1}: loss {np.mean(hist[-250:]):.3f}, window lag accuracy {acc:.2f} ({time.time() - t0:.0f} s)", flush=True)
    info = {"clips": len(files), "windows": len(data.starts), "steps": steps, "final_loss": float(np.mean(hist[-100:])), "seed": seed}
    return model, info


class _Export(nn.Module):
    def __init__(self, model: SyncNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(video, audio)


def export(model: SyncNet, path: Path, info: dict) -> None:
    import onnx

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    nv = model.video[1][0].in_channels
    na = model.audio[1][0].in_channels
    v = torch.zeros(1, nv, 200)
    a = torch.zeros(1, na, 200)
    torch.onnx.export(_Export(model), (v, a), str(path), input_names=["video", "audio"], output_names=["video_embedding", "audio_embedding"],
                      dynamic_axes={"video": {2: "steps"}, "audio": {2: "steps"}, "video_embedding": {2: "steps"}, "audio_embedding": {2: "steps"}},
                      opset_version=17, dynamo=False)
    m = onnx.load(str(path))
    for k, val in {**{k: json.dumps(v) for k, v in info.items()}, "receptive_field_steps": str(RECEPTIVE_FIELD_STEPS),
                   "recipe": "training/train_lipsync_net.py"}.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = k, str(val)
    onnx.save(m, str(path))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--folds", action="store_true", help="also train the per-fold models (out/folds/)")
    ap.add_argument("--only-folds", action="store_true", help="train the per-fold models only")
    ap.add_argument("--fold", type=int, action="append", help="train only this fold's model (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = sorted(Path(p) for p in glob.glob(str(DATA / "*.npz")))
    real = []
    for f in files:
        z = np.load(f, allow_pickle=False)
        if str(z["label"]) == "real":
            real.append((f, int(z["fold"])))
    print(f"{len(real)} real clips")
    jobs = []
    if args.folds or args.only_folds:
        jobs += [(k, FOLD_DIR / f"lipsync_net_fold{k}.onnx") for k in range(5)]
    if args.fold:
        jobs = [(k, FOLD_DIR / f"lipsync_net_fold{k}.onnx") for k in args.fold]
    elif not args.only_folds:
        jobs.append((None, SHIPPED))
    for k, out in jobs:
        use = [f for f, fold in real if fold != k]
        print(f"training {out.name} on {len(use)} clips", flush=True)
        model, info = train(use, args.steps, SEED + (0 if k is None else k + 1))
        info["held_out_fold"] = k
        export(model, out, info)
        print(f"  wrote {out} ({out.stat().st_size / 1024:.0f} KB)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
