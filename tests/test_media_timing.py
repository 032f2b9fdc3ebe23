"""Time from timestamps: audio placed by its packet timestamps (gaps filled with silence, overlaps
dropped), video frames by their own timestamps (variable frame rate), so long call recordings with
dropped packets stay in sync. Media made by construction (tests/fixtures/talking_head.py and real
PyAV audio frames)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from detectors.media import AUDIO_RATE, AudioChunk, AudioPlacer, VideoFrame, VideoStream, stream_audio
from fixtures.talking_head import AUDIO_PACKET_SAMPLES, make_talking_head

FRAME = 1024
"""Samples per synthetic audio frame in the placer tests."""


def _frame(values: np.ndarray, pts: int | None) -> av.AudioFrame:
    af = av.AudioFrame.from_ndarray(values.astype(np.float32)[None, :], format="flt", layout="mono")
    af.sample_rate = AUDIO_RATE
    af.time_base = Fraction(1, AUDIO_RATE)
    af.pts = pts
    return af


def _chunks(frames: list[av.AudioFrame]) -> tuple[list[AudioChunk], AudioPlacer]:
    chunks: list[AudioChunk] = []
    placer = AudioPlacer(lambda c: chunks.append(c) or True)
    for f in frames:
        assert placer.add(f)
    placer.finish()
    # the chunks are contiguous: each starts where the previous one ended
    for a, b in zip(chunks, chunks[1:]):
        assert b.t == pytest.approx(a.t + a.samples.size / AUDIO_RATE, abs=1e-9)
    return chunks, placer


def _place(frames: list[av.AudioFrame]) -> tuple[np.ndarray, float, AudioPlacer]:
    chunks, placer = _chunks(frames)
    return np.concatenate([c.samples for c in chunks]), chunks[0].t, placer


def test_gap_filled_with_silence_and_overlap_dropped() -> None:
    """Frames 0, 1, (2 dropped), 3, 3 again, then 4 starting half a frame early (its first half
    repeats the end of 3), then the rest: the output holds every sample once, at its timestamp,
    with silence where frame 2 was."""
    ramp = np.arange(6 * FRAME, dtype=np.float32) / (6 * FRAME) + 0.1  # never 0: silence is recognisable
    blocks = [ramp[i * FRAME:(i + 1) * FRAME] for i in range(6)]
    frames = [_frame(blocks[0], 0), _frame(blocks[1], FRAME), _frame(blocks[3], 3 * FRAME), _frame(blocks[3], 3 * FRAME),
              _frame(ramp[4 * FRAME - FRAME // 2:5 * FRAME - FRAME // 2], 4 * FRAME - FRAME // 2), _frame(ramp[5 * FRAME - FRAME // 2:], 5 * FRAME - FRAME // 2)]
    out, t0, placer = _place(frames)
    assert t0 == 0.0
    expected = ramp.copy()
    expected[2 * FRAME:3 * FRAME] = 0.0
    assert out.size == expected.size
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert placer.gaps == 1 and placer.gap_s == pytest.approx(FRAME / AUDIO_RATE)
    assert placer.overlaps == 2 and placer.overlap_s == pytest.approx(1.5 * FRAME / AUDIO_RATE)


def test_start_time_and_small_rounding_do_not_accumulate() -> None:
    """The first frame's timestamp places the track (audio that starts 0.5 s in starts at 0.5 s);
    timestamps rounded to a 1 ms clock (+-0.5 ms each) are not gaps, yet a steady 1 ms short fall
    per frame is caught once it adds up past the tolerance, so nothing drifts."""
    n = 400
    values = np.full(FRAME, 0.5, np.float32)
    frames = []
    for i in range(n):
        t = 0.5 + i * FRAME / AUDIO_RATE + 0.001 * i  # the sender's clock runs 1 ms/frame ahead of the samples
        af = _frame(values, int(round(t * 1000)))
        af.time_base = Fraction(1, 1000)
        frames.append(af)
    out, t0, placer = _place(frames)
    assert t0 == pytest.approx(0.5)
    end_true = 0.5 + n * FRAME / AUDIO_RATE + 0.001 * (n - 1)
    assert abs((t0 + out.size / AUDIO_RATE) - end_true) < 0.006
    assert placer.gaps >= 1 and placer.overlaps == 0


def _lag_s(a: np.ndarray, b: np.ndarray, hop: float, max_lag: int) -> float:
    lags = np.arange(-max_lag, max_lag + 1)
    core = slice(max_lag, a.size - max_lag)
    scores = [np.corrcoef(np.roll(a, -k)[core], b[core])[0, 1] for k in lags]
    return float(lags[int(np.argmax(scores))] * hop)


def test_dropped_audio_packets_keep_the_audio_in_place(tmp_path) -> None:
    """Audio packets dropped at 2 s and 4 s (a 128 ms gap each): the audio after them stays at its
    own time (sample counting would pull the last seconds 256 ms early) and the gaps are silent."""
    drops = ((2.0, 0.13), (4.0, 0.13))
    truth = make_talking_head(tmp_path / "gaps.mkv", duration_s=6.0, audio_drops=drops, seed=5)
    chunks = list(stream_audio(truth["path"]))
    samples = np.concatenate([c.samples for c in chunks])
    t0 = chunks[0].t
    assert t0 == 0.0 and abs(samples.size / AUDIO_RATE - 6.0) < 0.07
    packet_s = AUDIO_PACKET_SAMPLES / AUDIO_RATE
    dropped = [k for k in range(int(6.0 / packet_s) + 1) if any(a <= k * packet_s < a + n for a, n in drops)]
    assert len(dropped) == 4
    for k in dropped:  # each dropped packet's span is silence (a few samples of resampler edge aside)
        a = k * AUDIO_PACKET_SAMPLES
        assert np.all(samples[a + 32:a + AUDIO_PACKET_SAMPLES - 32] == 0.0)
    # loudness of the last 1.8 s against the truth: in place (the truth's envelope is at the true time)
    hop = 0.01
    t = np.arange(4.2, 6.0, hop)
    idx = ((t - t0) * AUDIO_RATE).astype(int)
    loud = np.array([np.sqrt(np.mean(samples[i:i + 160] ** 2)) if i + 160 <= samples.size else 0.0 for i in idx])
    env = np.interp(t, truth["signal_times"], truth["audio_envelope"])
    assert abs(_lag_s(loud, env, hop, 30)) <= 0.011


def test_video_frames_carry_their_own_timestamps(tmp_path) -> None:
    """A variable-frame-rate clip (intervals 33-100 ms): every frame's time is its timestamp."""
    rng = np.random.default_rng(2)
    times = np.cumsum(np.concatenate([[0.0], rng.uniform(1 / 30, 1 / 10, 59)]))
    truth = make_talking_head(tmp_path / "vfr.mkv", duration_s=float(times[-1]) + 0.1, fps=25, frame_times=times, seed=6)
    with VideoStream(truth["path"], analysis_fps=0, with_audio=False) as stream:
        got = np.array([item.t for item in stream if isinstance(item, VideoFrame)])
    assert got.size == times.size
    np.testing.assert_allclose(got, times, atol=0.0011)


def test_placed_audio_is_handed_on_in_chunks_of_a_quarter_second() -> None:
    """Decoded frames of 372 samples (an AAC frame at 16 kHz) are held until AUDIO_CHUNK_S is
    reached: fewer, larger chunks, contiguous, the last one shorter, every sample once."""
    from detectors.media import AUDIO_CHUNK_S

    values = np.arange(100 * 372, dtype=np.float32) / (100 * 372) + 0.1
    chunks, _ = _chunks([_frame(values[i * 372:(i + 1) * 372], i * 372) for i in range(100)])
    assert all(c.samples.size >= AUDIO_CHUNK_S * AUDIO_RATE for c in chunks[:-1])  # nothing short before the end
    per_chunk = int(np.ceil(AUDIO_CHUNK_S * AUDIO_RATE / 372))  # frames a chunk holds: 11
    assert len(chunks) == int(np.ceil(100 / per_chunk))
    np.testing.assert_allclose(np.concatenate([c.samples for c in chunks]), values, atol=1e-6)


def test_a_cancel_while_audio_is_held_stops_the_placer() -> None:
    """The consumer saying stop (a cancelled pass) is passed back from the chunk that reaches it."""
    values = np.full(372, 0.5, np.float32)
    placer = AudioPlacer(lambda c: False)
    results = [placer.add(_frame(values, i * 372)) for i in range(20)]
    assert results[0] is True and False in results  # held at first, refused once a chunk is handed on
