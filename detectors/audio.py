"""Streaming audio features for the checks that listen.

The pass hands audio over in chunks (mono float32 at :data:`detectors.media.AUDIO_RATE`);
:class:`AudioFeatureExtractor` turns them into a few numbers per 10 ms hop as they arrive, so a
two-hour recording never sits in memory as samples. :class:`AudioTrack` is what is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        self._samples = 0
        self._start: float | None = None

    def push(self, samples: np.ndarray, t: float | None = None) -> None:
        if self._start is None:
            self._start = float(t or 0.0)
        self._samples += samples.size
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
            sub_power = (spectrum**2) @ self.sub_bands.T * norm
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
        floor = float(np.percentile(energy, NOISE_FLOOR_PERCENTILE))
        voiced = (energy > floor + VAD_MARGIN_DB) & (energy > SILENCE_DB)
        start = (self._start or 0.0) + WINDOW_S / 2.0
        bands = self._bands.take()
        return AudioTrack(True, HOP_S, energy, flux, voiced, self._samples / self.rate, start, bands)
