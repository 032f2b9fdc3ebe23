"""Convert Resemblyzer's GE2E speaker encoder to ONNX for the `voice` check, and verify it.

Resemblyzer (Apache-2.0) ships ``resemblyzer/pretrained.pt`` inside its wheel: a 3-layer LSTM
(256 units) over 40 mel bands, a linear layer to 256, ReLU and L2 normalisation (GE2E,
Wan et al. 2018). The app runs it with onnxruntime, never PyTorch:

* ``assets/models/voice_encoder.onnx``: input ``mels`` (batch, frames, 40) float32 -- the mel
  power spectrogram of 1.6 s partial utterances (160 frames of 10 ms); output ``embeds``
  (batch, 256), L2-normalised;
* ``assets/models/voice_mel_filters.npy``: librosa's mel filter bank for that front end
  (16 kHz, n_fft 400, 40 bands, Slaney), so the app needs no librosa.

Verification (printed, and the run fails below MIN_AGREEMENT): for a few real clips of
../shared/media, Resemblyzer's own ``embed_utterance`` (librosa front end, PyTorch) against
:func:`detectors.voice.embed_utterance` (NumPy front end, onnxruntime) on the same preprocessed
waveform: cosine agreement per clip.

Usage: convert and write the original's embeddings (training venv, training/requirements.txt),
then verify the converted model in the app's environment:
    .venv-train/bin/python training/convert_voice_encoder.py
    uv run python training/convert_voice_encoder.py --verify-only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MIN_AGREEMENT = 0.999
CHECK_CLIPS = [
    "video/real_talking_01.mp4",
    "video/real_presenter.mp4",
    "video/hyperlips/video1.mp4",
    "video/hyperlips/M003-002_f43897c.mp4",
    "video/liveportrait/d10.mp4",
]


def export(out_dir: Path) -> None:
    import librosa
    import torch
    from resemblyzer import VoiceEncoder
    from resemblyzer.hparams import mel_n_channels, mel_window_length, sampling_rate

    enc = VoiceEncoder(device="cpu", verbose=False).eval()
    dummy = torch.zeros(2, 160, mel_n_channels)
    target = out_dir / "voice_encoder.onnx"
    torch.onnx.export(
        enc, (dummy,), str(target), input_names=["mels"], output_names=["embeds"],
        dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeds": {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    n_fft = int(sampling_rate * mel_window_length / 1000)
    filters = librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=mel_n_channels).astype(np.float32)
    np.save(out_dir / "voice_mel_filters.npy", filters)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and the mel filters {filters.shape}")


def _read_audio(path: Path) -> np.ndarray:
    """16 kHz mono float32 through FFmpeg (PyAV), as the app decodes it."""
    import av

    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def references(media: Path, out: Path) -> None:
    """Training venv: Resemblyzer's own embeddings of the check clips, with the waveforms it saw."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    enc = VoiceEncoder(device="cpu", verbose=False)
    saved = {}
    for i, rel in enumerate(CHECK_CLIPS):
        path = media / rel
        if path.is_file():
            wav = _read_audio(path)
            pre = preprocess_wav(wav)
            saved[f"wav{i}"] = pre
            saved[f"ref{i}"] = enc.embed_utterance(pre)
    np.savez(out, **saved)
    print(f"wrote {len(saved) // 2} reference embeddings to {out}")


def verify(refs: Path) -> float:
    """App venv: the converted encoder (NumPy front end, onnxruntime) on the same waveforms."""
    from detectors import voice

    data = np.load(refs)
    worst = 1.0
    for i, rel in enumerate(CHECK_CLIPS):
        if f"wav{i}" not in data:
            continue
        pre, ref = data[f"wav{i}"], data[f"ref{i}"]
        ours = voice.embed_utterance(pre)
        cos = float(np.dot(ref, ours) / (np.linalg.norm(ref) * np.linalg.norm(ours)))
        worst = min(worst, cos)
        print(f"{rel:<45} {pre.size / 16000:6.1f} s  cosine(original, converted) = {cos:.6f}")
    return worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "assets" / "models")
    p.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    p.add_argument("--refs", type=Path, default=ROOT / "out" / "voice_encoder_refs.npz")
    p.add_argument("--verify-only", action="store_true", help="(app venv) compare the converted model with the saved references")
    args = p.parse_args()
    if not args.verify_only:
        export(args.out)
        args.refs.parent.mkdir(parents=True, exist_ok=True)
        references(args.media, args.refs)
        return 0
    worst = verify(args.refs)
    print(f"lowest agreement {worst:.6f} (must be >= {MIN_AGREEMENT})")
    return 0 if worst >= MIN_AGREEMENT else 1


if __name__ == "__main__":
    sys.exit(main())
