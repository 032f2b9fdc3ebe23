"""The talking-head fixture: Face Mesh tracks the face on every frame, the lips follow the signal,
and the audio's loudness follows the same signal at the chosen offset."""

from __future__ import annotations

import numpy as np

from fixtures.talking_head import lip_opening, make_talking_head, stream_clip

MIN_MOUTH_CORRELATION = 0.8
MIN_AUDIO_CORRELATION = 0.8


def _best_lag_s(a: np.ndarray, b: np.ndarray, hop_s: float, max_lag: int) -> float:
    """Lag (s) by which ``a`` trails ``b`` (maximum correlation)."""
    lags = np.arange(-max_lag, max_lag + 1)
    core = slice(max_lag, a.size - max_lag)
    scores = [np.corrcoef(np.roll(a, -lag)[core], b[core])[0, 1] for lag in lags]
    return float(lags[int(np.argmax(scores))] * hop_s)


def test_face_tracked_and_lips_follow_signal(talking_head_clip: dict) -> None:
    track, audio = stream_clip(talking_head_clip["path"], analysis_fps=15)
    assert track.frames_analysed == 90  # 6 s at 15 fps
    assert track.frames_with_face == track.frames_analysed
    opening = lip_opening(track.landmarks)
    truth = np.interp(track.times, talking_head_clip["signal_times"], talking_head_clip["signal"])
    r = np.corrcoef(opening, truth)[0, 1]
    assert r > MIN_MOUTH_CORRELATION, r
    # the mouth really moves: open frames part the lips by 3 % of the face height more than shut ones
    assert np.percentile(opening, 90) - np.percentile(opening, 10) > 0.03

    assert audio.present and abs(audio.duration_s - 6.0) < 0.05
    env = np.interp(audio.times, talking_head_clip["signal_times"], talking_head_clip["audio_envelope"])
    loud = 10 ** (audio.energy_db / 20)
    assert np.corrcoef(loud, env)[0, 1] > MIN_AUDIO_CORRELATION


def test_audio_offset_and_no_audio(tmp_path) -> None:
    """A +300 ms clip's loudness trails the mouth signal by 300 ms; with_audio=False has no audio track."""
    from detectors.media import probe

    truth = make_talking_head(tmp_path / "late.mp4", duration_s=4.0, audio_offset_s=0.3, audio_codec="aac", seed=3)
    from detectors.audio import AudioFeatureExtractor
    from detectors.media import AudioChunk, VideoStream

    ex = AudioFeatureExtractor()
    with VideoStream(truth["path"], analysis_fps=2) as stream:
        for item in stream:
            if isinstance(item, AudioChunk):
                ex.push(item.samples, item.t)
    audio = ex.finish()
    loud = 10 ** (audio.energy_db / 20)
    mouth = np.interp(audio.times, truth["signal_times"], truth["signal"])
    assert abs(_best_lag_s(loud, mouth, audio.hop_s, 60) - 0.3) <= 0.02

    silent = make_talking_head(tmp_path / "silent.mkv", duration_s=1.0, with_audio=False)
    assert not probe(silent["path"]).has_audio
