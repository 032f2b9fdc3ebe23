"""Streaming audio features for the checks that listen.

The pass hands audio over in chunks (mono float32 at :data:`detectors.media.AUDIO_RATE`);
:class:`AudioFeatureExtractor` turns them into a few numbers per 10 ms hop as they arrive, so a
two-hour recording never sits in memory as samples. :class:`AudioTrack` is what is kept:
speech-band energy and onsets, sub-band energies, a log-mel spectrogram (the learned lip-sync
model's audio input) and voice activity.

Voice activity comes from a trained model, Silero VAD (MIT), whose ONNX file ships inside the
``silero-vad`` wheel: :class:`SileroVad` loads that file by path (the package itself imports
PyTorch, which the app does not install) and runs it with onnxruntime on 32 ms windows, so
music, noise and silence are not counted as speech the way a loudness threshold counts them.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .media import AUDIO_RATE
from .rows import RowBuffer

HOP_S = 0.010
"""Feature hop (s): one row of features every 10 ms."""

WINDOW_S = 0.025
"""Analysis window (s) for each hop."""

SPEECH_BAND_HZ = (300.0, 3400.0)
"""Band whose energy follows speech (telephone band)."""

VAD_MARGIN_DB = 12.0
"""A hop is voiced when its speech-band energy is this far above the noise floor (dB)."""

NOISE_FLOOR_PERCENTILE = 10.0
"""The noise floor is this percentile of the speech-band energy over the recording."""

SILENCE_DB = -70.0
"""Energy below this (dBFS) is digital silence whatever the floor says."""

N_MELS = 40
"""Mel bands of the log-mel spectrogram kept per hop (``AudioTrack.mel_db``)."""

MEL_RANGE_HZ = (60.0, 7600.0)
"""Frequency range the mel bands cover."""

VAD_MODEL_FILE = "silero_vad.onnx"
"""Silero VAD's ONNX model, in the installed package's ``data`` folder."""

VAD_WINDOW = 512
"""Samples per Silero VAD window at 16 kHz (32 ms), as the model is trained."""

VAD_CONTEXT = 64
"""Samples of the previous window the model sees before each window (Silero's own wrapper)."""

VAD_ON = 0.5
"""Speech probability from which a window is speech (Silero's default threshold)."""

VAD_OFF = 0.35
"""...and below which speech ends (hysteresis, Silero's threshold - 0.15), so one doubtful
window inside a word does not split it."""

log = logging.getLogger(__name__)

BAND_EDGES_HZ = (80.0, 300.0, 800.0, 1500.0, 3000.0, 6000.0)
"""Edges of the sub-bands whose energies are kept per hop (``AudioTrack.bands_db``): voice
pitch, first formant, second formant, upper formants, fricatives. The lip-sync check follows
the formant bands, which open and close with the mouth."""


@dataclass
class AudioTrack:
    """Audio features at HOP_S resolution. ``present`` is False when the file has no audio."""

    present: bool
    hop_s: float
    energy_db: np.ndarray  # (K,) speech-band energy, dBFS
    flux: np.ndarray  # (K,) positive spectral flux in the speech band (onsets)
    voiced: np.ndarray  # (K,) bool voice activity
    duration_s: float
    start_s: float = 0.0  # time of the first hop's centre offset in the file
    bands_db: np.ndarray = field(default_factory=lambda: np.zeros((0, len(BAND_EDGES_HZ) - 1), np.float32))
    """(K, B) energy per sub-band (BAND_EDGES_HZ), dBFS."""
    mel_db: np.ndarray = field(default_factory=lambda: np.zeros((0, N_MELS), np.float16))
    """(K, N_MELS) log-mel energies (dB), float16."""
    speech_prob: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """(K,) Silero VAD speech probability per hop (empty when voice activity came from energy)."""
    vad: str = "silero"
    """What decided ``voiced``: "silero" (the model) or "energy" (no model: loudness over the floor)."""

    @classmethod
    def missing(cls) -> "AudioTrack":
        empty = np.zeros(0, dtype=np.float32)
        return cls(False, HOP_S, empty, empty, np.zeros(0, dtype=bool), 0.0)

    @property
    def times(self) -> np.ndarray:
        return self.start_s + np.arange(self.energy_db.size) * self.hop_s

    @property
    def speech_seconds(self) -> float:
        return float(self.voiced.sum() * self.hop_s)


class AudioFeatureExtractor:
    """Push audio chunks in, get an :class:`AudioTrack` out. Constant memory per hop."""

    def __init__(self, rate: int = AUDIO_RATE) -> None:
        self.rate = rate
        self.hop = int(round(HOP_S * rate))
        self.win = int(round(WINDOW_S * rate))
        self.nfft = 1 << (self.win - 1).bit_length()
        self.window = np.hanning(self.win).astype(np.float32)
        freqs = np.fft.rfftfreq(self.nfft, 1.0 / rate)
        self.band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
        edges = np.asarray(BAND_EDGES_HZ)
        self.sub_bands = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:])]).astype(np.float32)
        self._buf = np.zeros(0, dtype=np.float32)
        self._prev_mag: np.ndarray | None = None
        self._energy = RowBuffer((), np.float32)
        self._flux = RowBuffer((), np.float32)
        self._bands = RowBuffer((self.sub_bands.shape[0],), np.float32)
        self.mel = mel_filterbank(self.nfft, rate).T.astype(np.float32)  # (bins, N_MELS)
        self._mel = RowBuffer((N_MELS,), np.float16)
        self._samples = 0
        self._start: float | None = None
        self._vad = SileroVad.create() if rate == 16_000 else None

    def push(self, samples: np.ndarray, t: float | None = None) -> None:
        if self._start is None:
            self._start = float(t or 0.0)
        self._samples += samples.size
        if self._vad is not None:
            self._vad.push(samples)
        buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        n = 0 if buf.size < self.win else 1 + (buf.size - self.win) // self.hop
        if n:
            idx = np.arange(self.win)[None, :] + self.hop * np.arange(n)[:, None]
            frames = buf[idx] * self.window
            spectrum = np.abs(np.fft.rfft(frames, n=self.nfft, axis=1))
            mag = spectrum[:, self.band]
            norm = 4.0 / (self.win * self.win)
            power = (mag**2).sum(axis=1) * norm
            self._energy.extend(10.0 * np.log10(power + 1e-12))
            power_spec = spectrum**2
            sub_power = power_spec @ self.sub_bands.T * norm
            self._mel.extend((10.0 * np.log10(power_spec @ self.mel * norm + 1e-10)).astype(np.float16))
            self._bands.extend(10.0 * np.log10(sub_power + 1e-12))
            prev = self._prev_mag if self._prev_mag is not None else mag[:1]
            stacked = np.vstack([prev, mag])
            diff = np.diff(np.log1p(stacked * 100.0), axis=0)
            self._flux.extend(np.maximum(diff, 0.0).mean(axis=1))
            self._prev_mag = mag[-1:]
            buf = buf[n * self.hop :]
        self._buf = buf

    def finish(self) -> AudioTrack:
        if not len(self._energy):
            track = AudioTrack.missing()
            track.duration_s = self._samples / self.rate
            track.present = self._samples > 0
            return track
        energy = self._energy.take()
        flux = self._flux.take()
        start = (self._start or 0.0) + WINDOW_S / 2.0
        bands = self._bands.take()
        mel = self._mel.take()
        if self._vad is not None:
            # window j covers samples [512 j, 512 (j+1)); hop i is centred at 160 i + 200
            probs = self._vad.finish()
            centre = (np.arange(energy.size) * self.hop + self.win / 2.0) // VAD_WINDOW
            prob = probs[np.minimum(centre.astype(np.int64), probs.size - 1)] if probs.size else np.zeros(energy.size, np.float32)
            voiced = hysteresis(prob, VAD_ON, VAD_OFF) & (energy > SILENCE_DB)
            return AudioTrack(True, HOP_S, energy, flux, voiced, self._samples / self.rate, start, bands, mel, prob.astype(np.float32), "silero")
        floor = float(np.percentile(energy, NOISE_FLOOR_PERCENTILE))
        voiced = (energy > floor + VAD_MARGIN_DB) & (energy > SILENCE_DB)
        return AudioTrack(True, HOP_S, energy, flux, voiced, self._samples / self.rate, start, bands, mel, vad="energy")


def hysteresis(prob: np.ndarray, on: float, off: float) -> np.ndarray:
    """True from where ``prob`` reaches ``on`` until it falls below ``off`` (in between, the last
    decided state holds)."""
    label = np.where(prob >= on, 1, np.where(prob < off, -1, 0))
    idx = np.where(label != 0, np.arange(label.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return label[idx] == 1


def mel_filterbank(nfft: int, rate: int, n_mels: int = N_MELS, fmin: float = MEL_RANGE_HZ[0], fmax: float = MEL_RANGE_HZ[1]) -> np.ndarray:
    """(n_mels, nfft // 2 + 1) triangular mel filters (HTK mel scale, each filter's peak 1)."""
    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs[None, :]) / np.maximum(hi - mid, 1e-9)
    return np.clip(np.minimum(up, down), 0.0, None)


_vad_lock = threading.Lock()
_vad_session: object | None = None


def vad_model_path() -> Path:
    """Silero VAD's ONNX file inside the installed ``silero_vad`` package (found without importing
    it: its ``__init__`` imports PyTorch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the silero-vad package is not installed (its ONNX model gives voice activity); reinstall Telltale")
    path = Path(spec.origin).parent / "data" / VAD_MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"Silero VAD model missing at {path}; reinstall Telltale")
    return path


def _session() -> object:
    global _vad_session
    with _vad_lock:
        if _vad_session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            _vad_session = ort.InferenceSession(str(vad_model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        return _vad_session


class SileroVad:
    """Streaming Silero VAD: push 16 kHz samples, get one speech probability per 32 ms window.

    The recurrent state and the 64-sample context carry from window to window as in Silero's own
    wrapper; a probability is a float32 per window (~125 bytes a second for the whole track)."""

    def __init__(self) -> None:
        self._sess = _session()
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(VAD_CONTEXT, np.float32)
        self._buf = np.zeros(0, np.float32)
        self._sr = np.array(16_000, np.int64)
        self._probs = RowBuffer((), np.float32)

    @classmethod
    def create(cls) -> "SileroVad | None":
        """A new instance, or None (said once in the log) when the model cannot be loaded."""
        try:
            return cls()
        except (FileNotFoundError, ImportError, OSError) as exc:
            log.warning("voice activity falls back to loudness: %s", exc)
            return None

    def push(self, samples: np.ndarray) -> None:
        buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        n = buf.size // VAD_WINDOW
        for j in range(n):
            window = buf[j * VAD_WINDOW:(j + 1) * VAD_WINDOW]
            x = np.concatenate([self._context, window])[None, :]
            out, self._state = self._sess.run(None, {"input": x, "state": self._state, "sr": self._sr})  # type: ignore[attr-defined]
            self._probs.append(float(out[0, 0]))
            self._context = window[-VAD_CONTEXT:]
        self._buf = buf[n * VAD_WINDOW:]

    def finish(self) -> np.ndarray:
        if self._buf.size:  # the last partial window, padded with silence
            self.push(np.zeros(VAD_WINDOW - self._buf.size, np.float32))
        return self._probs.take()
