"""The voice check: speaker embeddings (converted GE2E encoder) and who speaks in a candidate's recordings."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from detectors import voice
from detectors.audio import AudioFeatureExtractor
from detectors.pipeline import analyze_candidate
from tests.fixtures.voices import SPEAKER_A, SPEAKER_B, utterance, write_clip

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def _stream(wav: np.ndarray) -> voice.RecordingVoice:
    listener, feats = voice.VoiceListener(), AudioFeatureExtractor()
    for i in range(0, wav.size, 3000):  # odd chunk size: partials straddle chunks
        listener.push(wav[i : i + 3000], i / voice.AUDIO_RATE)
        feats.push(wav[i : i + 3000], i / voice.AUDIO_RATE)
    return voice.analyse_recording_voice("x.wav", listener.finish(), feats.finish())


def test_embedding_is_a_unit_vector_and_the_same_speaker_is_closer_than_another():
    a1 = voice.embed_utterance(utterance(SPEAKER_A, 6, 1))
    a2 = voice.embed_utterance(utterance(SPEAKER_A, 6, 2))
    b1 = voice.embed_utterance(utterance(SPEAKER_B, 6, 3))
    assert a1.shape == (256,) and abs(np.linalg.norm(a1) - 1) < 1e-4
    same, other = voice.cosine_distance(a1, a2), voice.cosine_distance(a1, b1)
    assert same < 0.1 < other


def test_streamed_print_matches_the_whole_utterance():
    wav = utterance(SPEAKER_A, 8, 5)
    streamed = _stream(wav)
    assert len(streamed.voices) == 1 and streamed.speech_s > 5
    assert voice.cosine_distance(streamed.print.embedding, voice.embed_utterance(wav)) < 0.05


def test_listener_keeps_partials_not_samples():
    listener = voice.VoiceListener()
    wav = utterance(SPEAKER_A, 12, 6)
    for i in range(0, wav.size, 4096):
        listener.push(wav[i : i + 4096])
        assert listener._buf.size <= voice.PARTIAL_FRAMES * voice.HOP + 4096
    track = listener.finish()
    assert len(track) == pytest.approx((12 - voice.PARTIAL_S) / voice.STEP_S + 1, abs=1.5)


def test_two_speakers_in_one_recording_are_told_apart():
    rv = _stream(np.concatenate([utterance(SPEAKER_A, 10, 7), utterance(SPEAKER_B, 10, 8)]))
    assert len(rv.voices) == 2
    first = [s.speaker for s in rv.segments if s.end_s <= 10.0]
    second = [s.speaker for s in rv.segments if s.start_s >= 10.0]
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] != second[0]


def test_silence_gives_no_voice():
    rv = _stream(np.zeros(voice.AUDIO_RATE * 5, np.float32))
    assert rv.print is None and rv.speech_s == 0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("voices")
    return {
        "a1": write_clip(d / "a1.mp4", utterance(SPEAKER_A, 9, 11)),
        "a2": write_clip(d / "a2.mp4", utterance(SPEAKER_A, 9, 12)),
        "b1": write_clip(d / "b1.mp4", utterance(SPEAKER_B, 9, 13)),
    }


def test_candidate_with_one_voice_is_not_flagged(clips):
    report = analyze_candidate([clips["a1"], clips["a2"]], [], "One Voice", library=None)
    finding = report.checks["voice"]
    assert finding.risk == 0.0 and finding.confidence > 0.5
    assert finding.evidence["pairs"][0]["distance"] < 0.1


def test_candidate_with_two_voices_is_flagged_as_a_proxy(clips):
    # the synthetic voices are closer than real ones (0.28-0.32); the bar is lowered to match
    report = analyze_candidate([clips["a1"], clips["b1"]], [], "Two Voices", library=None,
                               settings={"voice.different_distance": 0.2})
    finding = report.checks["voice"]
    assert finding.risk >= 0.5
    assert "a1.mp4" in finding.summary and "b1.mp4" in finding.summary
    pair = finding.evidence["pairs"][0]
    assert pair["distance"] > 0.2
    rec = finding.evidence["recordings"][0]
    assert rec["excerpt"][1] > rec["excerpt"][0]  # a segment to play


def _shared(path: str) -> Path:
    p = MEDIA / path
    if not p.is_file():
        pytest.skip("../shared/media is absent")
    return p


def test_shared_clips_of_one_speaker_are_one_voice_and_two_people_are_not():
    same = analyze_candidate([_shared("video/hyperlips/M003-002_f43897c.mp4"), _shared("video/hyperlips/M003-028_8e248ee.mp4")],
                             [], "Same", library=None).checks["voice"]
    other = analyze_candidate([_shared("video/hyperlips/video1.mp4"), _shared("video/hyperlips/video2.mp4")],
                              [], "Other", library=None).checks["voice"]
    assert same.risk == 0.0
    assert other.risk >= 0.5 and other.confidence >= 0.5


def _voice(path: str, prints: list[tuple[np.ndarray, float]], candidate: int, mouths: list[float | None]) -> voice.RecordingVoice:
    vps = tuple(voice.VoicePrint(e, s, int(s / 0.8)) for e, s in prints)
    segs = tuple(voice.VoiceSegment(10.0 * k, 10.0 * k + s, k, mouths[k]) for k, (_e, s) in enumerate(prints))
    return voice.RecordingVoice(path, vps, segs, candidate, float(sum(s for _e, s in prints)))


def test_a_watchlist_voice_is_reported_but_not_decisive_and_an_unsure_voice_is_not_searched(tmp_path):
    """The same voice in an imported watchlist is a finding, not a verdict on its own (as a
    look-alike face in a collection); a print that may be the interviewer's is never searched."""
    from detectors import watchlist as wl
    from detectors.base import CandidateContext, RecordingContext
    from detectors.store.sqlite import Library
    from detectors.voice_check import VoiceDetector, attributed, storable_print

    known = voice.embed_utterance(utterance(SPEAKER_A, 8, 21))
    entry = wl.WatchEntry("interview", "video", 1, (), voices=(wl.WatchVoice(known, 8.0),))
    with Library(tmp_path / "lib.sqlite") as lib:
        lib.import_watchlist(wl.Watchlist("known voices", wl.now_iso(), (entry,)))
        heard = voice.embed_utterance(utterance(SPEAKER_A, 8, 22))
        sure = _voice("call.mp4", [(heard, 8.0)], 0, [None])
        finding = VoiceDetector().analyze(CandidateContext("New", [RecordingContext("call.mp4", None, None, voice=sure)], [], library=lib))
        top = finding.evidence["library_matches"][0]
        assert (top["collection"], top["candidate"]) == ("watchlist: known voices", None)
        assert finding.risk == 1.0 and not finding.evidence["decisive"] and "under collection watchlist: known voices" in finding.summary
        # two voices, and no face to say which is the candidate's: not searched, not stored
        unsure = _voice("call.mp4", [(heard, 8.0), (voice.embed_utterance(utterance(SPEAKER_B, 8, 23)), 8.0)], 0, [None, None])
        assert not attributed(unsure) and storable_print(unsure) is None
        finding = VoiceDetector().analyze(CandidateContext("New", [RecordingContext("call.mp4", None, None, voice=unsure)], [], library=lib))
        assert finding.evidence["library_matches"] == [] and finding.evidence["not_searched"] == ["call.mp4"]
        # the same two voices told apart by the moving mouth: the candidate's is searched and found
        told = _voice("call.mp4", [(heard, 8.0), (voice.embed_utterance(utterance(SPEAKER_B, 8, 23)), 8.0)], 0, [0.05, 0.001])
        kept = storable_print(told)
        assert attributed(told) and kept is not None and (kept.start_s, kept.end_s) == (0.0, 8.0)
        finding = VoiceDetector().analyze(CandidateContext("New", [RecordingContext("call.mp4", None, None, voice=told)], [], library=lib))
        assert [m["collection"] for m in finding.evidence["library_matches"]] == ["watchlist: known voices"]
