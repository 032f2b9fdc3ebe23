"""Voice prints in the case store (issue 18), run on both back ends (SQLite file, PostgreSQL
server): stored when an analysis is recorded (the candidate's voice only), searched 1:N like
faces, decisive in the score when another candidate has the same voice, erased, kept under
retention and copied by ``telltale library migrate`` exactly like face embeddings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from detectors import scoring
from detectors.store.sqlite import ERASED_FILE, ERASED_NAME, Library
from detectors.pipeline import analyze_candidate
from detectors.store import open_library
from detectors.voice import RecordingVoice, VoicePrint, VoiceSegment
from detectors.voice_check import SAME_VOICE, StoredPrint
from fixtures.voices import SPEAKER_A, SPEAKER_B, utterance, write_clip

from store.backends import Locations

EVERYTHING = 2.0
"""A cosine distance no two prints exceed: the search returns every stored print."""


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(256).astype(np.float32)
    return v / np.linalg.norm(v)


def _near(v: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """A unit vector at (about) ``distance`` cosine distance from the unit vector ``v``."""
    r = _unit(seed)
    r -= float(r @ v) * v
    r /= np.linalg.norm(r)
    cos = 1.0 - distance
    return (cos * v + np.sqrt(1.0 - cos * cos) * r).astype(np.float32)


def _recording(path: Path, prints: list[tuple[np.ndarray, float]], candidate: int | None,
               mouths: list[float | None] | None = None) -> SimpleNamespace:
    """A recording as the pipeline hands it to ``record_analysis``: a file, no face, its voices."""
    voices = tuple(VoicePrint(e, s, int(s / 0.8)) for e, s in prints)
    mouths = mouths or [None] * len(voices)
    segs = tuple(VoiceSegment(10.0 * k, 10.0 * k + s, k, mouths[k]) for k, (_e, s) in enumerate(prints))
    voice = RecordingVoice(str(path), voices, segs, candidate, float(sum(s for _e, s in prints)))
    return SimpleNamespace(path=str(path), track=None, voice=voice)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("voices")
    return {
        "a1": write_clip(d / "a1.mp4", utterance(SPEAKER_A, 9, 11)),
        "a2": write_clip(d / "a2.mp4", utterance(SPEAKER_A, 9, 12)),
        "b1": write_clip(d / "b1.mp4", utterance(SPEAKER_B, 9, 13)),
    }


def test_search_finds_the_nearest_voices_of_other_owners(library: Any) -> None:
    alice = _unit(1)
    library.add_voice_prints("Alice", None, [StoredPrint(alice, 20.0, 2.0, 6.5)])
    library.add_voice_prints("Bob", None, [StoredPrint(_near(alice, 0.10, 2), 5.0, None, None)])
    library.add_voice_prints("Carol", None, [StoredPrint(_near(alice, 0.40, 3), 9.0, 0.0, 4.0)])
    hits = library.search_voices(alice)
    assert [(m["candidate"], m["kind"]) for m in hits] == [("Alice", "same-voice"), ("Bob", "same-voice")]
    assert hits[0]["distance"] < 1e-3 and abs(hits[1]["distance"] - 0.10) < 1e-3
    assert (hits[0]["speech_s"], hits[0]["detail"]["excerpt"], hits[0]["collection"], hits[0]["file"]) == (20.0, [2.0, 6.5], None, "")
    assert hits[1]["detail"] == {"method": "voice print", "excerpt": None}
    # the default bar is the voice check's same-voice distance; a wider one reaches Carol
    assert SAME_VOICE.default < 0.40
    assert [m["candidate"] for m in library.search_voices(alice, max_distance=0.5)] == ["Alice", "Bob", "Carol"]
    assert [m["candidate"] for m in library.search_voices(alice, exclude_candidate="Alice")] == ["Bob"]
    assert [m["candidate"] for m in library.search_voices(alice, exclude_candidate="Nobody", limit=1)] == ["Alice"]
    assert library.search_voices(alice, max_distance=0.05, exclude_candidate="Alice") == []
    assert library.search_voices(np.zeros(256, np.float32)) == []
    with pytest.raises(ValueError):
        library.search_voices(np.ones(128, np.float32))
    log = library.audit_log(limit=20)
    adds = [e for e in log if e["action"] == "add-voice-prints"]
    assert len(adds) == 3 and all(e["detail"] == {"count": 1, "source": "recording"} for e in adds)
    assert all(e["subject"].startswith("candidate#") for e in adds)


def test_same_results_on_both_back_ends(locations: Locations, tmp_path: Path) -> None:
    """The same prints, the same queries: this back end gives what a SQLite library gives."""
    base = [_unit(100 + i) for i in range(8)]
    prints = [(f"person {i % 5}", _near(base[i % 8], 0.02 * (i // 8), 200 + i), 3.0 + i) for i in range(40)]
    reference = Library(tmp_path / "ref.sqlite")
    with open_library(locations.new()) as lib:
        for target in (lib, reference):
            for name, e, speech in prints:
                target.add_voice_prints(name, None, [StoredPrint(e, speech, None, None)])
        for q, ex in ((0, None), (3, "person 3"), (5, "person 0")):
            query = _near(base[q], 0.03, 300 + q)
            got = lib.search_voices(query, exclude_candidate=ex, max_distance=0.2, limit=6)
            want = reference.search_voices(query, exclude_candidate=ex, max_distance=0.2, limit=6)
            assert len(got) == len(want) >= 3
            assert [(m["candidate"], m["speech_s"]) for m in got] == [(m["candidate"], m["speech_s"]) for m in want]
            assert np.allclose([m["distance"] for m in got], [m["distance"] for m in want], atol=2e-4)
    reference.close()


def test_record_analysis_stores_only_the_candidates_voice(library: Any, tmp_path: Path) -> None:
    files = {}
    for name in ("one", "two", "unsure", "short"):
        files[name] = tmp_path / f"{name}.mp4"
        files[name].write_bytes(name.encode() * 100)
    cand, interviewer, guess = _unit(10), _unit(11), _unit(12)
    recs = [
        _recording(files["one"], [(cand, 12.0)], 0),
        # the candidate's voice is the one with the moving mouth: the interviewer's is not stored
        _recording(files["two"], [(interviewer, 30.0), (cand, 8.0)], 1, mouths=[0.001, 0.04]),
        # two voices and no face to tell them apart: nothing stored (it may be the interviewer's)
        _recording(files["unsure"], [(guess, 30.0), (_unit(13), 8.0)], 0),
        # too little speech for a print worth comparing
        _recording(files["short"], [(_unit(14), 1.6)], 0),
    ]
    rows = library.record_analysis("Dana", (), recs, {"score": 90.0, "verdict": "authentic"})
    assert [Path(r.path).name for r in rows] == ["one.mp4", "two.mp4"]  # the others held no face and no voice to keep
    stored = library.search_voices(cand, max_distance=EVERYTHING)
    assert sorted(Path(m["file"]).name for m in stored) == ["one.mp4", "two.mp4"]
    assert {m["candidate"] for m in stored} == {"Dana"} and len(stored) == 2
    two = next(m for m in stored if m["file"].endswith("two.mp4"))
    assert (two["speech_s"], two["detail"]["excerpt"]) == (8.0, [10.0, 18.0]) and two["distance"] < 1e-3
    assert library.search_voices(interviewer, max_distance=0.3) == []
    assert library.search_voices(guess, max_distance=0.3) == []
    # analysed again (another print for the same recording): replaced, not piled up
    library.record_analysis("Dana", (), [_recording(files["one"], [(_near(cand, 0.05, 15), 14.0)], 0)], None)
    again = library.search_voices(cand, max_distance=EVERYTHING)
    assert sorted((Path(m["file"]).name, m["speech_s"]) for m in again) == [("one.mp4", 14.0), ("two.mp4", 8.0)]
    assert len(library.media("Dana")) == 2


def test_same_voice_under_another_name_is_decisive_and_the_same_candidate_is_not(library: Any, clips: dict[str, Path]) -> None:
    """Alice's interview voice is in the library; Bob's recording has the same voice (another
    take of the same speaker): the voice check settles the case like a reused face. Alice herself
    analysed again, and Carol with another voice, are not flagged."""
    anyone = _unit(0)
    first = analyze_candidate([clips["a1"]], [], "Alice", library=library)
    assert "voice" in first.checks and not first.checks["voice"].evidence.get("library_matches")
    assert [m["candidate"] for m in library.search_voices(anyone, max_distance=EVERYTHING)] == ["Alice"]
    again = analyze_candidate([clips["a1"], clips["a2"]], [], "Alice", library=library)  # her own voice is not "another name"
    assert again.checks["voice"].evidence["library_matches"] == [] and not again.checks["voice"].evidence.get("decisive")
    assert again.checks["voice"].risk == 0.0 and again.verdict != "likely-fake"
    library.erase_candidate("Alice")  # she comes back below with the first take only
    analyze_candidate([clips["a1"]], [], "Alice", library=library)

    bob = analyze_candidate([clips["a2"]], [], "Bob", library=library)
    voice = bob.checks["voice"]
    top = voice.evidence["library_matches"][0]
    assert (top["candidate"], top["kind"], Path(top["file"]).name) == ("Alice", "same-voice", "a1.mp4")
    assert top["distance"] <= SAME_VOICE.default and top["detail"]["excerpt"] is not None
    assert voice.evidence["decisive"] is True and scoring.is_decisive(voice)
    assert "under candidate Alice (a1.mp4, voice distance" in voice.summary
    assert bob.verdict == "likely-fake" and bob.score <= scoring.DECISIVE_CAP
    library.save_report("Bob", bob.to_dict())

    carol = analyze_candidate([clips["b1"]], [], "Carol", library=library)
    assert carol.checks["voice"].evidence["library_matches"] == [] and carol.verdict != "likely-fake"

    # erasing Alice: her voice prints go, Bob's stored report keeps the finding without her name or file
    assert sorted(m["candidate"] for m in library.search_voices(anyone, max_distance=EVERYTHING)) == ["Alice", "Bob", "Carol"]
    cid = library.get_candidate("Alice").id
    library.erase_candidate("Alice")
    assert sorted(m["candidate"] for m in library.search_voices(anyone, max_distance=EVERYTHING)) == ["Bob", "Carol"]
    saved = library.latest_report("Bob")
    text = json.dumps(saved)
    assert "Alice" not in text and "a1.mp4" not in text and ERASED_NAME in text
    match = saved["checks"]["voice"]["evidence"]["library_matches"][0]
    assert (match["candidate"], match["file"]) == (ERASED_NAME, ERASED_FILE)
    assert saved["checks"]["voice"]["summary"].startswith("The same voice as in a2.mp4 is in the library under candidate "
                                                          f"{ERASED_NAME} ({ERASED_FILE}, voice distance")
    erase = library.audit_log(limit=50, candidate=None)
    erase = next(e for e in erase if e["action"] == "erase-candidate" and e["subject"] == f"candidate#{cid}")
    assert erase["subject"] == f"candidate#{cid}" and erase["detail"]["voices"] == 1 and erase["detail"]["reports_redacted"] == 1


def test_retention_erases_voice_prints(library: Any) -> None:
    library.add_voice_prints("Old Voice", None, [StoredPrint(_unit(40), 9.0, None, None)])
    library.set_retention_days(10)
    old = library.get_candidate("Old Voice").id
    assert library.expired_candidates() == []  # the voice print counts as activity: nothing is due yet
    assert library.apply_retention(datetime.now(timezone.utc) + timedelta(days=11)) == [old]
    assert library.search_voices(_unit(40)) == []
    assert library.get_candidate("Old Voice") is None
    erase = library.audit_log(limit=5)[0]
    assert erase["action"] == "erase-candidate" and erase["detail"]["reason"] == "retention" and erase["detail"]["voices"] == 1


def test_migrate_copies_voice_prints_with_their_recording(pg_server: Any, tmp_path: Path) -> None:
    from detectors.store.migrate import migrate

    clip = tmp_path / "interview.mp4"
    clip.write_bytes(b"not decoded here" * 64)
    v = _unit(50)
    with Library(tmp_path / "desk.sqlite") as desk:
        desk.record_analysis("Erin", (), [_recording(clip, [(v, 11.0)], 0)], {"score": 80.0})
    url = pg_server.new_database()
    first = migrate(tmp_path / "desk.sqlite", url)
    second = migrate(tmp_path / "desk.sqlite", url)
    # the second run finds the recording copied (with its voice print): nothing is doubled
    assert (first.copied.get("voice"), second.copied.get("voice", 0), second.already.get("media")) == (1, 0, 1)
    with open_library(url) as team:
        (m,) = team.search_voices(v)
        assert (m["candidate"], Path(m["file"]).name, m["speech_s"], m["detail"]["excerpt"]) == ("Erin", "interview.mp4", 11.0, [0.0, 11.0])
        assert m["detail"]["media_id"] == team.media("Erin")[0].id
