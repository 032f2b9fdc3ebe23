"""The foundation: face track, report contract, and a defined outcome for every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors import MediaError, analyze_candidate
from detectors.cli import main as cli_main
from detectors.faces import faces_in_image
from detectors.media import load_image, probe
from detectors.pipeline import BLAS_THREADS, analyze_recording
from fixtures.simple_media import two_faces_image, two_faces_video, write_video

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "media"
FAST = {"pipeline.analysis_fps": 10}


def _contract(report: dict) -> None:
    assert set(report) >= {"candidate", "score", "verdict", "checks", "reasons", "media", "timings_s"}
    assert 0 <= report["score"] <= 100
    assert report["verdict"] in ("authentic", "review", "likely-fake")
    for name, check in report["checks"].items():
        assert 0 <= check["risk"] <= 1 and 0 <= check["confidence"] <= 1, name
        assert isinstance(check["summary"], str) and isinstance(check["evidence"], dict)
    for m in report["media"]:
        assert set(m) >= {"path", "kind", "duration_s", "frames_analysed", "faces_found"}


# --------------------------------------------------------------------------- face track


def test_other_faces_are_searched_once_a_second(tmp_path: Path) -> None:
    """Face Mesh follows one face per frame; the frame is searched for others every second
    (and on embedded frames): those frames say two faces, the others say -1 (not searched)."""
    from detectors import faces

    clip = two_faces_video(tmp_path / "two.mp4", seconds=3.0, fps=15)
    track = analyze_recording(clip, settings={"pipeline.analysis_fps": 15}).track
    assert track.frames_with_face == track.frames_analysed == 45
    searched = track.n_faces >= 0
    assert set(np.unique(track.n_faces[~searched])) == {-1}
    assert 3 <= searched.sum() <= 3.0 / faces.OTHER_FACES_EVERY_S + 2
    assert (track.n_faces[searched] == 2).all()
    assert track.other_embeddings.shape[0] >= 1  # the other face was embedded with the main one
    # a mirror image of the same person is not a second person
    assert not track.second_person
    # once the other face is seen, Face Mesh follows both, and the track stays on one face
    centres = (track.boxes[:, 0] + track.boxes[:, 2]) / 2
    assert np.ptp(centres) < 0.1 * track.frame_size[0], centres


def test_tracker_follows_two_faces_once_it_has_seen_the_second(tmp_path: Path) -> None:
    from detectors.faces import MAX_FACES, MAX_FACES_WITH_OTHERS, FaceTracker
    from detectors.media import AudioChunk, VideoStream

    clip = two_faces_video(tmp_path / "two.mp4", seconds=1.0, fps=15)
    with VideoStream(clip, analysis_fps=15) as stream:
        tracker = FaceTracker(str(clip), stream.info.fps, 15, stream.info.duration_s)
        assert tracker._mesh_faces == MAX_FACES == 1
        for item in stream:
            if not isinstance(item, AudioChunk):
                tracker.add(item)
        assert tracker._mesh_faces == MAX_FACES_WITH_OTHERS
        tracker.finish()


def _pipeline_threads() -> list[str]:
    import threading

    # the embedding worker's reader lives on by design (one worker for the whole session)
    return [t.name for t in threading.enumerate() if t.name in ("telltale-decode", "telltale-observe") and t.is_alive()]


def test_cancel_mid_pass_stops_every_thread(talking_head_clip: dict) -> None:
    import threading

    from detectors.base import Cancelled

    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float, _message: str) -> None:
        seen.append(fraction)
        if len(seen) == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        analyze_recording(talking_head_clip["path"], settings={"pipeline.analysis_fps": 15}, progress=progress, cancel=cancel)
    assert len(seen) == 2 and seen[-1] < 0.9
    assert _pipeline_threads() == []


def test_a_check_failing_while_observing_fails_the_recording_cleanly(talking_head_clip: dict, monkeypatch) -> None:
    from detectors import registry
    from detectors.base import Detector

    class Broken(Detector):
        name = "broken"

        def observe(self, frame, face) -> None:
            if frame.index > 20:
                raise RuntimeError("observe failed on purpose")

        def analyze(self, context):
            return None

    real = registry.recording_detectors
    monkeypatch.setattr(registry, "recording_detectors", lambda: [*real(), Broken])
    with pytest.raises(RuntimeError, match="on purpose"):
        analyze_recording(talking_head_clip["path"], settings=FAST)
    assert _pipeline_threads() == []


def test_face_track_follows_the_fixture_face(talking_head_clip: dict) -> None:
    rec = analyze_recording(talking_head_clip["path"], settings=FAST)
    track = rec.track
    assert track is not None
    expected = talking_head_clip["duration_s"] * 10
    assert abs(track.frames_analysed - expected) <= 2
    assert track.coverage == 1.0
    assert track.embeddings.shape[0] >= 3
    assert track.identity_spread < 0.3  # the same face all along
    assert not track.second_person
    assert rec.audio is not None and rec.audio.present
    assert rec.audio.speech_seconds > 1.0


def test_analysis_keeps_blas_to_one_thread_and_times_each_check(talking_head_clip: dict) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=2, user_api="blas")  # as a fresh process starts on two cores
    rec = analyze_recording(talking_head_clip["path"], settings=FAST)
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas and all(i["num_threads"] == BLAS_THREADS for i in blas)
    t = rec.timings_s
    for name in ("faceswap", "lipsync", "audio"):  # each check's per-frame CPU on the observe thread
        assert t[f"cpu.observe.{name}"] > 0
    assert sum(v for k, v in t.items() if k.startswith("cpu.observe.")) <= t["cpu.observe_thread"] + 1e-6
    assert 0 < t["faceswap.clip_encoder"] <= t["faceswap"]  # the face-swap probe read its crops after the pass


def test_report_contract_and_cli_json(talking_head_clip: dict, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = cli_main(["--library", str(tmp_path / "lib.sqlite"), "analyze", "--set", "pipeline.analysis_fps=10", "-q", "--candidate", "Astro", str(talking_head_clip["path"]), "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    _contract(report)
    assert report["candidate"] == "Astro"
    assert report["media"][0]["frames_analysed"] > 0
    assert report["media"][0]["faces_found"] == report["media"][0]["frames_analysed"]
    from detectors.store.sqlite import Library

    with Library(tmp_path / "lib.sqlite") as lib:  # the recording's face, its voice and the report: stored together
        row = lib.get_candidate("Astro")
        assert row is not None and row.media_count == 1 and lib.media("Astro")[0].faces == 1
        assert lib.latest_report("Astro")["score"] == report["score"]
        assert [e["action"] for e in lib.audit_log()][:4] == ["export", "analysis", "add-voice-prints", "add-face-embeddings"]


# --------------------------------------------------------------------------- bad input


def _only_error(report, path: Path) -> str:
    entry = next(m for m in report.media if Path(m.path) == path)
    assert entry.error, f"expected an error entry for {path}"
    assert any(str(path) in e for e in report.errors)
    return entry.error


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    report = analyze_candidate([missing], [], "x")
    assert "not found" in _only_error(report, missing)
    assert not report.analysed_anything


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    report = analyze_candidate([empty], [], "x")
    assert "empty" in _only_error(report, empty)


def test_file_that_is_not_media(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 50)
    report = analyze_candidate([text], [], "x")
    assert "not a media file" in _only_error(report, text)
    with pytest.raises(MediaError, match="notes.mp4"):
        probe(text)


def test_truncated_mp4(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mp4", frames=40, audio_s=2.6)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    report = analyze_candidate([cut], [], "x")
    err = _only_error(report, cut)
    assert "truncated" in err or "damaged" in err


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mp4", frames=20)
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"\x00" * 1000)
    report = analyze_candidate([bad, good], [], "x", settings=FAST)
    assert report.analysed_anything
    assert [m.error is None for m in report.media] == [True, False]


def test_video_with_no_face(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "noface.mp4", frames=30, audio_s=2.0)
    report = analyze_candidate([clip], [], "x", settings=FAST)
    entry = report.media[0]
    assert entry.error is None and entry.frames_analysed > 0 and entry.faces_found == 0
    assert "no face found in any analysed frame" in entry.details["notes"]
    for finding in report.checks.values():  # nothing to judge: no check may claim confidence
        if finding.check in ("faceswap", "lipsync"):
            assert finding.confidence == 0.0


def test_video_with_no_audio(talking_head_factory, tmp_path: Path) -> None:
    truth = talking_head_factory(with_audio=False, duration_s=3.0)
    report = analyze_candidate([truth["path"]], [], "x", settings=FAST)
    entry = report.media[0]
    assert entry.error is None and entry.details["has_audio"] is False
    assert "no audio track" in entry.details["notes"]
    if "lipsync" in report.checks:
        assert report.checks["lipsync"].confidence == 0.0


def test_image_with_two_faces(tmp_path: Path) -> None:
    img = two_faces_image(tmp_path / "two.jpg")
    assert len(faces_in_image(load_image(img))) == 2
    report = analyze_candidate([], [img], "x")
    entry = report.media[0]
    assert entry.kind == "id-photo" and entry.faces_found == 2
    assert any("2 faces" in n for n in entry.details["notes"])


def test_path_with_spaces_and_non_ascii(talking_head_clip: dict, tmp_path: Path) -> None:
    folder = tmp_path / "entrevues candidats"
    folder.mkdir()
    odd = folder / "Zoë Ångström – appel n°1.mkv"
    shutil.copy(talking_head_clip["path"], odd)
    report = analyze_candidate([odd], [], "Zoë", settings=FAST)
    assert report.media[0].error is None and report.media[0].faces_found > 0
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_cli_exits_nonzero_only_when_nothing_analysed(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage" * 10)
    assert cli_main(["analyze", "--no-library", "-q", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err
    good = write_video(tmp_path / "ok.mp4", frames=10)
    assert cli_main(["analyze", "--no-library", "-q", str(bad), str(good)]) == 0


def test_exif_orientation_applied(tmp_path: Path) -> None:
    from PIL import Image

    arr = np.zeros((40, 80, 3), np.uint8)
    arr[:, :40] = 255  # left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    loaded = load_image(tmp_path / "rot.jpg")
    assert loaded.rgb.shape[:2] == (80, 40)


# --------------------------------------------------------------------------- shared media


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/media is not present")
def test_shared_real_talking_clip(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert cli_main(["analyze", "--no-library", "-q", str(SHARED / "video" / "real_talking_01.mp4"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    _contract(report)
    assert report["media"][0]["frames_analysed"] >= 60
    assert report["media"][0]["faces_found"] >= 0.95 * report["media"][0]["frames_analysed"]
