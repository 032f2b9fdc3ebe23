"""The lip-sync check on the astronaut talking-head fixture: known offsets are recovered, and the
cases it cannot judge (no audio, no face) say so with confidence 0."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from detectors.base import Finding, RecordingContext
from detectors.lipsync import LIP_NOISE_BAD, LIP_NOISE_OK, SOFT_MOUTH_BAD, SOFT_MOUTH_CONFIDENCE, SOFT_MOUTH_OK, LipSyncDetector
from fixtures.talking_head import stream_clip

OFFSET_TOLERANCE_MS = 80.0
CLIP_S = 6.0


_STREAMS: dict[tuple[str, float], tuple] = {}
_FINDINGS: dict[tuple[str, float], Finding] = {}


def _stream(path: str, analysis_fps: float = 15.0) -> tuple:
    """(FaceTrack, AudioTrack) of a fixture clip, memoised: several tests read the same clip."""
    key = (path, analysis_fps)
    if key not in _STREAMS:
        _STREAMS[key] = stream_clip(path, analysis_fps=analysis_fps)
    return _STREAMS[key]


def _analyze(truth: dict, analysis_fps: float = 15.0) -> Finding:
    """The check on a fixture clip (memoised)."""
    key = (truth["path"], analysis_fps)
    if key not in _FINDINGS:
        track, audio = _stream(truth["path"], analysis_fps)
        _FINDINGS[key] = LipSyncDetector().analyze(RecordingContext(truth["path"], track, audio, {}))
    finding = _FINDINGS[key]
    assert finding is not None
    return finding


@pytest.mark.parametrize(("offset_ms", "analysis_fps"), [(-300, 15.0), (0, 15.0), (200, 15.0), (120, 10.0)])
def test_known_offset_recovered(talking_head_factory, offset_ms: int, analysis_fps: float) -> None:
    truth = talking_head_factory(duration_s=CLIP_S, audio_offset_s=offset_ms / 1000.0, seed=1)
    f = _analyze(truth, analysis_fps)
    est = f.evidence["offset_ms"]
    print(f"true {offset_ms:+d} ms @ {analysis_fps:g} fps -> estimated {est:+.1f} ms, "
          f"sync_confidence {f.evidence['sync_confidence']:.2f}, risk {f.risk:.2f}")
    assert abs(est - offset_ms) <= OFFSET_TOLERANCE_MS
    assert f.evidence["sync_confidence"] > 0.2  # a clean lock, limited by ~5 s of speech
    assert f.evidence["window_consistency"] >= 0.8
    # steady landmarks: the lips are readable and the check judges
    assert f.evidence["landmark_noise"] < LIP_NOISE_OK
    assert f.evidence["lips_readable"] and not f.evidence["cannot_judge"]
    # risk follows the size of the offset: none in sync, full for 300 ms
    if abs(offset_ms) <= 120:
        assert f.risk < 0.1
    if abs(offset_ms) >= 300:
        assert f.risk > 0.8
    json.dumps(f.to_dict())  # evidence is JSON-ready
    tl = f.evidence["timeline"]
    assert len(tl["t"]) == len(tl["mouth"]) == len(tl["audio"])
    assert abs(len(tl["t"]) - CLIP_S * 10) <= 2  # 10 points per second


def test_aac_in_mp4_same_answer(talking_head_factory) -> None:
    truth = talking_head_factory(duration_s=CLIP_S, audio_offset_s=-0.15, seed=2, audio_codec="aac")
    f = _analyze(truth)
    assert abs(f.evidence["offset_ms"] + 150) <= OFFSET_TOLERANCE_MS


def test_no_audio_cannot_judge(talking_head_factory) -> None:
    truth = talking_head_factory(duration_s=3.0, with_audio=False, seed=1)
    track, audio = _stream(truth["path"])
    assert not audio.present
    f = LipSyncDetector().analyze(RecordingContext(truth["path"], track, audio, {}))
    assert f.confidence == 0.0 and f.risk == 0.0
    assert f.evidence["reason"] == "no audio" and f.evidence["offset_ms"] is None
    assert "no audio" in f.summary


def test_no_face_cannot_judge(talking_head_factory) -> None:
    truth = talking_head_factory(duration_s=CLIP_S, audio_offset_s=0.0, seed=1)
    track, audio = _stream(truth["path"])
    faceless = replace(track, boxes=np.full_like(track.boxes, np.nan), landmarks=np.full_like(track.landmarks, np.nan))
    f = LipSyncDetector().analyze(RecordingContext(truth["path"], faceless, audio, {}))
    assert f.confidence == 0.0 and f.risk == 0.0
    assert f.evidence["reason"] == "no face" and f.evidence["cannot_judge"]


def test_speech_with_still_mouth_is_mismatch(talking_head_factory) -> None:
    """The voice talks, the lips never move: mismatch segments cover the speech, risk is high."""
    truth = talking_head_factory(duration_s=CLIP_S, audio_offset_s=0.0, seed=1, mouth_moves=False)
    f = _analyze(truth)
    segs = [s for s in f.evidence["mismatch_segments"] if s["kind"] == "speech_mouth_still"]
    print("mismatch", f.evidence["mismatch_fraction"], f.risk, f.confidence, f.summary)
    assert f.evidence["mismatch_fraction"] > 0.5
    assert sum(s["end_s"] - s["start_s"] for s in segs) > 2.0
    assert f.risk > 0.8 and f.confidence > 0.3


@pytest.mark.parametrize("kwargs", [
    # another voice over a small face with sensor noise: without the readability gate the noise
    # read as a mouth moving in the pauses (silence/speech motion 1.27, risk ~0.7)
    {"voice_seed": 7, "size": (80, 80), "pixel_noise": 30.0},
    # the right voice, but a face too small and noisy to read the lips
    {"size": (64, 64), "pixel_noise": 30.0},
])
def test_unreadable_lips_cannot_judge(talking_head_factory, kwargs: dict) -> None:
    """Lips too small or shaky to read, and no clear lock: "cannot judge", not a mismatch."""
    truth = talking_head_factory(duration_s=CLIP_S, seed=1, **kwargs)
    f = _analyze(truth)
    e = f.evidence
    print(kwargs, f.risk, f.confidence, e["landmark_noise"], e["risk_parts"], f.summary)
    assert e["landmark_noise"] > LIP_NOISE_BAD
    assert not e["lips_readable"] and e["cannot_judge"]
    assert f.risk == 0.0 and all(v == 0.0 for v in e["risk_parts"].values())
    assert f.confidence < 0.1 and e["sync_confidence"] < 0.1
    assert "cannot be judged" in f.summary
    assert e["offset_ms"] is not None  # the best guess is still reported


def test_revoiced_clip_scores_above_in_sync(talking_head_factory) -> None:
    """Lips speaking one utterance, the voice another (a re-voiced clip, steady landmarks): no
    clean lock, the mouth moves in the voice's pauses, and the risk is above the in-sync clip's."""
    revoiced = _analyze(talking_head_factory(duration_s=8.0, seed=1, voice_seed=7))
    in_sync = _analyze(talking_head_factory(duration_s=CLIP_S, audio_offset_s=0.0, seed=1))
    r, s = revoiced.evidence, in_sync.evidence
    print("revoiced", revoiced.risk, r["risk_parts"], r["silence_over_speech_motion"], "| in sync", in_sync.risk, s["silence_over_speech_motion"])
    assert r["lips_readable"]
    assert r["peak_correlation"] < s["peak_correlation"] - 0.2
    assert r["silence_over_speech_motion"] > 0.9
    # the in-sync voice pauses only briefly: the voice-activity model may hear no silence at all
    assert s["silence_over_speech_motion"] is None or s["silence_over_speech_motion"] < 0.9
    assert revoiced.risk > 0.3 and in_sync.risk < 0.1


@pytest.mark.parametrize(("mouth_blur", "soft"), [(0.0, False), (3.0, True)])
def test_soft_mouth_is_generated_mouth(talking_head_factory, mouth_blur: float, soft: bool) -> None:
    """A lower face blurred into a sharp frame (how a lip-sync model's 96 px mouth looks) reads a low
    mouth/eye sharpness and gets the generated-mouth risk, at most half sure; the sharp clip none."""
    truth = talking_head_factory(duration_s=CLIP_S, audio_offset_s=0.0, seed=1, mouth_blur=mouth_blur)
    det = LipSyncDetector()
    track, audio = stream_clip(truth["path"], analysis_fps=15.0, observers=(det,))
    f = det.analyze(RecordingContext(truth["path"], track, audio, {}))
    e = f.evidence
    print(mouth_blur, e["mouth_sharpness_ratio"], e["mouth_sharpness_frames"], e["risk_parts"], f.risk, f.confidence, f.summary)
    assert e["mouth_sharpness_frames"] >= 40  # 6 s at 15 fps, every second analysed frame
    assert abs(e["offset_ms"]) <= OFFSET_TOLERANCE_MS  # the blur does not move the sync
    if soft:
        assert e["mouth_sharpness_ratio"] < SOFT_MOUTH_BAD.default
        assert e["risk_parts"]["soft_mouth"] == 1.0 and f.risk == 1.0
        assert f.confidence == pytest.approx(SOFT_MOUTH_CONFIDENCE)
        assert "softer than the eyes" in f.summary
    else:
        assert e["mouth_sharpness_ratio"] > 2 * SOFT_MOUTH_OK.default
        assert e["risk_parts"]["soft_mouth"] == 0.0 and f.risk < 0.1


def test_no_frames_observed_no_soft_mouth(talking_head_factory) -> None:
    """Without frames to look at (analyze alone), the generated-mouth part stays out."""
    f = _analyze(talking_head_factory(duration_s=CLIP_S, audio_offset_s=0.0, seed=1, mouth_blur=3.0))
    assert f.evidence["mouth_sharpness_ratio"] is None and f.evidence["risk_parts"]["soft_mouth"] == 0.0
