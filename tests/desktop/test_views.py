"""The app's pieces on their own: report reading, the timeline, settings, drops on the list,
and the player, with made-up reports (no analysis runs here)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent


def _png(colour: tuple[int, int, int] = (200, 120, 90), size: int = 48) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), colour, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def made_up_report(video: str, two_recordings: bool = False) -> dict[str, Any]:
    """A report shaped like the engine's (faceswap, lipsync, identity, reuse evidence)."""
    fs_ev = {
        "risk_per_second": [[0.0, 0.1], [1.0, 0.8], [2.0, 0.3]],
        "top_frames": [{"t": 1.2, "frame_index": 30, "box": [1, 2, 3, 4], "blend_probability": 0.81,
                        "face_png": _png(), "heatmap_png": _png((255, 0, 0))}],
        "clip_frames": [{"t": 2.1, "logit": 1.7, "risk": 0.64, "model": "clip",
                         "face_png": _png(), "heatmap_png": _png((255, 200, 0))}],
    }
    ls_ev = {
        "offset_ms": 180.0,
        "sync_confidence": 0.7,
        "windows": [{"t": 0.5, "offset_ms": 170.0, "correlation": 0.6, "weight": 1.0},
                    {"t": 1.5, "offset_ms": 190.0, "correlation": 0.5, "weight": 1.0}],
        "mismatch_segments": [{"start_s": 1.0, "end_s": 1.8, "kind": "speech_mouth_still"}],
        "timeline": {"t": [0.0, 1.0, 2.0], "mouth": [0.1, None, 0.3], "audio": [-40.0, -20.0, -30.0]},
    }
    checks = {
        "faceswap": {"risk": 0.8, "confidence": 0.6, "summary": "Blending seams around the face.", "evidence": fs_ev},
        "lipsync": {"risk": 0.7, "confidence": 0.7, "summary": "The voice runs 180 ms late.", "evidence": ls_ev},
        "identity": {"risk": 0.2, "confidence": 0.5, "summary": "Same person as the ID photo.",
                     "evidence": {"id_face_png": _png((0, 0, 255)), "threshold": 0.6, "median_distance": 0.41,
                                  "recordings": {video: {"distances": [[0.5, 0.4], [2.0, 0.45]]}}}},
        "reuse": {"risk": 0.9, "confidence": 0.9, "summary": "The ID photo belongs to another candidate.",
                  "evidence": {"matches": [{"query": "/nowhere/id.jpg", "candidate": "Other Person", "file": "/nowhere/o.jpg",
                                            "kind": "same-image", "distance": 0.05}]}},
    }
    media = [{"path": video, "kind": "video", "duration_s": 3.0, "frames_analysed": 15, "faces_found": 15, "error": None}]
    if two_recordings:
        other = str(Path(video).with_name("second.mkv"))
        media.append({"path": other, "kind": "video", "duration_s": 5.0, "frames_analysed": 25, "faces_found": 25, "error": None})
        fs_copy = dict(fs_ev)
        checks["faceswap"]["evidence"] = {**fs_ev, "recordings": {video: fs_copy, other: {"risk_per_second": [[4.0, 0.9]]}},
                                          "lead_recording": video}
    return {"candidate": "Made Up", "score": 23.0, "verdict": "likely-fake", "confidence": 0.6, "checks": checks,
            "contributions": {"faceswap": 40.0, "lipsync": 30.0}, "reasons": ["Face swap signs.", "Voice late."],
            "media": media, "errors": [], "timings_s": {}, "created_at": "2026-11-21T17:00:00+00:00", "version": "1"}


def test_report_reading_finds_every_series() -> None:
    from desktop import engine

    rep = made_up_report("/v/a.mkv")
    (ev,) = engine.recording_evidence(rep)
    assert ev.faceswap_risk == [(0.0, 0.1), (1.0, 0.8), (2.0, 0.3)]
    assert ev.lipsync_offsets == [(0.5, 170.0), (1.5, 190.0)]
    assert ev.mismatch_segments == [(1.0, 1.8)]
    assert ev.mouth == [(0.0, 0.1), (2.0, 0.3)]  # the None point is skipped
    assert ev.id_distance == [(0.5, 0.4), (2.0, 0.45)] and ev.id_threshold == 0.6
    assert ev.duration_s == 3.0 and len(ev.top_frames) == 1
    assert [f["t"] for f in ev.clip_frames] == [2.1]
    matches = engine.reuse_matches(rep)
    assert [m["candidate"] for m in matches] == ["Other Person"]


def test_several_recordings_each_get_their_own_series() -> None:
    from desktop import engine

    rep = made_up_report("/v/a.mkv", two_recordings=True)
    first, second = engine.recording_evidence(rep)
    assert first.faceswap_risk[1] == (1.0, 0.8)
    assert second.faceswap_risk == [(4.0, 0.9)]
    assert second.top_frames == [] and second.duration_s == 5.0


def test_missing_evidence_draws_nothing_and_breaks_nothing(qtbot: Any) -> None:
    from desktop import engine
    from desktop.candidate_page import CandidatePage

    rep = {"candidate": "Bare", "score": 100, "verdict": "authentic", "checks": {"lipsync": {"risk": 0, "confidence": 0, "summary": "no audio", "evidence": {}}},
           "media": [{"path": "/gone/x.mp4", "kind": "video", "duration_s": None}]}
    (ev,) = engine.recording_evidence(rep)
    assert ev.faceswap_risk == [] and ev.lipsync_offsets == [] and ev.duration_s == 0.0
    page = CandidatePage()
    qtbot.addWidget(page)
    page.set_candidate({"id": 1, "name": "Bare"}, [], rep)
    assert page.badge.score_text == "100"
    assert page.checks_table.item(0, 1).text() == "n/a"  # confidence 0: could not judge


def test_candidate_page_shows_checks_frames_identity_and_reuse(qtbot: Any, tmp_path: Path) -> None:
    from desktop.candidate_page import CandidatePage

    video = str(tmp_path / "a.mkv")
    page = CandidatePage()
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.set_candidate({"id": 7, "name": "Made Up"}, [{"id": 1, "path": video, "role": "video"}], made_up_report(video))
    assert page.badge.score_text == "23" and page.badge.verdict_label.text() == "Likely fake"
    titles = [page.checks_table.item(r, 0).text() for r in range(page.checks_table.rowCount())]
    assert titles == ["Face swap", "Lip sync", "Same person throughout", "Reused photo or face"]
    assert page.checks_table.item(0, 3).text() == "−40.0"
    assert page.frames_flow.count() == 2  # the CLIP probe's moment and the CNN's top frame (face + heat map each)
    captions = [page.frames_flow.itemAt(i).widget().caption for i in range(2)]
    assert "frame score 0.81" in captions[0] and "CLIP reading 0.64" in captions[1]  # most suspicious first
    assert page.identity_flow.count() == 2  # ID face, interview face
    assert page.reuse_flow.count() == 1
    assert "Other Person" in page.reuse_flow.itemAt(0).widget().caption
    assert page.timeline is not None and page.timeline.height() >= 4 * 40  # four lanes drawn


def test_timeline_maps_clicks_to_times(qtbot: Any) -> None:
    from desktop import engine
    from desktop.timeline import TimelineWidget

    (ev,) = engine.recording_evidence(made_up_report("/v/a.mkv"))
    tl = TimelineWidget(ev)
    qtbot.addWidget(tl)
    tl.resize(800, tl.height())
    tl.show()
    qtbot.waitExposed(tl)
    for t in (0.0, 1.0, 2.5, 3.0):
        with qtbot.waitSignal(tl.seekRequested) as sig:
            qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(round(tl.x_at(t))), 10))
        assert sig.args[0] == pytest.approx(t, abs=3.0 / 700)


def test_pdf_of_a_made_up_report(qapp: Any, tmp_path: Path) -> None:
    from desktop.export import export_pdf, report_html

    rep = made_up_report(str(tmp_path / "a.mkv"))
    html, images = report_html(rep)
    assert "Likely fake" in html and "Other Person" in html and "CLIP probe: where the face reads swapped" in html
    assert len(images) >= 5  # timeline, the CLIP moment's face and map, the top frame's face and heat map, ID face
    pdf = export_pdf(rep, tmp_path / "r.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000


def test_settings_dialog_keeps_values_in_range(qtbot: Any, config: Any) -> None:
    from desktop.settings_dialog import SettingsDialog

    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    assert "pipeline.analysis_fps" in dialog.spins and len(dialog.spins) >= 5
    spin = dialog.spins["pipeline.analysis_fps"]
    s = dialog.settings["pipeline.analysis_fps"]
    assert spin.value() == 5.0  # the stored override, not the default
    spin.setValue(s.maximum + 100)
    assert spin.value() == s.maximum  # the spin box cannot leave the documented range
    spin.setValue(12)
    dialog.library_edit.setText(str(config.library_path.with_name("other.sqlite")))
    assert dialog.apply() is True
    assert config.overrides()["pipeline.analysis_fps"] == 12
    assert config.library_path.name == "other.sqlite"
    dialog.restore_defaults()
    assert dialog.values() == {}


def test_out_of_range_stored_setting_is_ignored(config: Any) -> None:
    config.set_overrides({"pipeline.analysis_fps": 1000.0})
    assert "pipeline.analysis_fps" not in config.overrides()


def test_files_dropped_on_a_candidate_in_the_list(window: Any, desktop_media: dict[str, Path], qtbot: Any) -> None:
    first = window.new_candidate("First")
    second = window.new_candidate("Second")
    assert window.current_id == second
    row = next(i for i in range(window.candidate_list.count()) if window.candidate_list.item(i).data(Qt.ItemDataRole.UserRole) == first)
    rect = window.candidate_list.visualItemRect(window.candidate_list.item(row))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(desktop_media["photo"]))])
    event = QDropEvent(QPointF(rect.center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.mediaAdded, timeout=60_000) as sig:
        window.candidate_list.dropEvent(event)
    assert sig.args == [first, 1]
    assert [m.role for m in window.library.media(first)] == ["id"]
    assert window.library.media(second) == []


def test_player_seeks_and_reports_bad_files(qtbot: Any, desktop_media: dict[str, Path]) -> None:
    from desktop.player import VideoPlayer

    player = VideoPlayer()
    qtbot.addWidget(player)
    assert player.open(str(desktop_media["clip"]))
    assert player.duration == pytest.approx(3.0, abs=0.1)
    for t in (2.5, 0.4, 1.0):
        player.seek(t)
        assert player.position == pytest.approx(t, abs=0.03)  # 25 fps: within a frame
    with qtbot.waitSignal(player.errorOccurred) as sig:
        assert not player.open(str(desktop_media["broken"]))
    assert "broken interview.mp4" in sig.args[0]
