"""Audio features: voice activity from Silero VAD's ONNX model (music, noise and silence are not
speech; synthetic and real speech are), the log-mel spectrogram, and the hysteresis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.audio import AudioFeatureExtractor, N_MELS, hysteresis, mel_filterbank, vad_model_path
from detectors.media import AUDIO_RATE, stream_audio
from fixtures.talking_head import SIGNAL_RATE, speech_audio, speech_signal

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"

MAX_NON_SPEECH_S = 0.3
"""Seconds of 'speech' tolerated in 8 s of music, noise or silence."""


def _features(x: np.ndarray):
    ex = AudioFeatureExtractor()
    for i in range(0, x.size, 3000):  # in chunks, as the pass hands them over
        ex.push(x[i:i + 3000].astype(np.float32))
    return ex.finish()


def _music(seconds: float) -> np.ndarray:
    """Piano-like chords (harmonics with exponential decay), one every half second."""
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    out = np.zeros_like(t)
    roots = (261.6, 329.6, 392.0, 440.0, 349.2, 293.7, 493.9, 523.3)
    for beat in range(int(seconds * 2)):
        on = t >= beat * 0.5
        tt = t[on] - beat * 0.5
        for f in (roots[beat % 8], roots[beat % 8] * 1.26, roots[beat % 8] * 1.5):
            for k in range(1, 6):
                out[on] += np.sin(2 * np.pi * f * k * tt) / k**1.5 * np.exp(-3.0 * tt)
    return 0.3 * out / np.abs(out).max()


def test_vad_model_ships_in_the_installed_package() -> None:
    path = vad_model_path()
    assert path.is_file() and path.name == "silero_vad.onnx" and path.parent.parent.name == "silero_vad"


@pytest.mark.parametrize("kind", ["music", "white noise", "hum", "silence"])
def test_music_noise_and_silence_are_not_speech(kind: str) -> None:
    rng = np.random.default_rng(0)
    n = 8 * AUDIO_RATE
    t = np.arange(n) / AUDIO_RATE
    x = {"music": lambda: _music(8.0), "white noise": lambda: 0.1 * rng.standard_normal(n),
         "hum": lambda: 0.2 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t),
         "silence": lambda: np.zeros(n)}[kind]()
    a = _features(x)
    assert a.vad == "silero"
    assert a.speech_seconds <= MAX_NON_SPEECH_S, (kind, a.speech_seconds)
    # a loudness threshold would have called the loud ones speech: the model is what decides
    if kind != "silence":
        assert np.percentile(a.mel_db.astype(np.float32).max(axis=1), 90) > -40


def test_synthetic_speech_is_speech() -> None:
    for seed in range(4):
        rng = np.random.default_rng(seed)
        env = speech_signal(8.0, rng)
        a = _features(speech_audio(env, SIGNAL_RATE, rng))
        talking = np.interp(a.times, np.arange(env.size) / SIGNAL_RATE, env) > 0.1
        assert a.voiced[talking].mean() > 0.9, seed


def test_real_speech_is_speech() -> None:
    clip = SHARED / "video" / "real_presenter.mp4"
    if not clip.exists():
        pytest.skip("../shared/media is not here")
    ex = AudioFeatureExtractor()
    for c in stream_audio(clip):
        ex.push(c.samples, c.t)
    a = ex.finish()
    assert a.speech_seconds > 0.6 * a.duration_s  # a presenter speaking throughout


def test_log_mel_follows_the_frequency() -> None:
    """A 500 Hz tone then a 3 kHz tone: the loudest mel band moves up, by the filterbank's centres."""
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    x = np.concatenate([0.3 * np.sin(2 * np.pi * 500 * t), 0.3 * np.sin(2 * np.pi * 3000 * t)])
    a = _features(x)
    assert a.mel_db.shape == (a.energy_db.size, N_MELS) and a.mel_db.dtype == np.float16
    fb = mel_filterbank(512, AUDIO_RATE)
    centres = np.fft.rfftfreq(512, 1 / AUDIO_RATE)[np.argmax(fb, axis=1)]
    low, high = np.argmax(a.mel_db[20:80], axis=1), np.argmax(a.mel_db[120:180], axis=1)
    assert np.all(np.abs(centres[low] - 500) < 120) and np.all(np.abs(centres[high] - 3000) < 400)


def test_hysteresis() -> None:
    p = np.array([0.1, 0.4, 0.6, 0.4, 0.3, 0.45, 0.55, 0.2, 0.9])
    assert hysteresis(p, 0.5, 0.35).tolist() == [False, False, True, True, False, False, True, False, True]


def test_features_do_not_depend_on_how_the_audio_is_chunked() -> None:
    """The pass hands audio on in quarter-second chunks (detectors.media.AUDIO_CHUNK_S), not per
    decoded frame: the features and the voice activity come out the same either way."""
    rng = np.random.default_rng(3)
    x = speech_audio(np.ones(30), 10, rng)[: 3 * AUDIO_RATE].astype(np.float32)
    tracks = []
    for size in (372, 4000):
        ext = AudioFeatureExtractor()
        for i in range(0, x.size, size):
            ext.push(x[i:i + size], i / AUDIO_RATE)
        tracks.append(ext.finish())
    a, b = tracks
    assert a.energy_db.size > 200 and a.speech_prob.size > 50
    for name in ("energy_db", "flux", "voiced", "bands_db", "mel_db", "speech_prob"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.start_s == b.start_s
