"""Issue 16: the app on a laptop screen, with results that stay true.

The real window, offscreen, with reports saved in a real library (made-up reports shaped like
the engine's, so the pages are full without an analysis), except the stale-result test, which
runs two real analyses of photo-only candidates (the second reuses the first one's photo)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from test_app import add_and_wait, wait_finished
from test_views import made_up_report

SMALL = (1024, 700)
LAPTOP = (1366, 768)


def _png(colour: tuple[int, int, int], size: int = 40) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), colour, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def settle(ms: int = 150) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _candidate_with_report(window: Any, name: str, report: dict[str, Any], files: list[tuple[str, str]] = ()) -> Any:
    """A candidate with files and a saved report (the files need not exist: the page says so)."""
    cid = window.library.add_candidate(name)
    for path, role in files:
        with window.library._lock, window.library.transaction():  # a row without reading the file
            window.library._db.execute(
                "INSERT INTO media(candidate_id, path, role, sha256, size, added_at) VALUES (?, ?, ?, ?, 0, '2026-12-01')",
                (cid, path, role, f"{name}:{path}"))
    window.library.save_report(cid, {**report, "candidate": name})
    return cid


def proxy_report(first: str, second: str) -> dict[str, Any]:
    """Two recordings of two different people under one name (what the identity check reports)."""
    report = made_up_report(first, two_recordings=True)
    report["media"][1]["path"] = second
    report["checks"]["faceswap"]["evidence"]["recordings"] = {
        first: {"risk": 0.1, "confidence": 0.8, "summary": "no blending"},
        second: {"risk": 0.85, "confidence": 0.8, "summary": "blending seams"},
    }
    report["checks"]["identity"] = {
        "risk": 1.0, "confidence": 1.0,
        "summary": f"Different people in this candidate's recordings: {Path(second).name} does not show the person in {Path(first).name}.",
        "evidence": {"threshold": 0.6, "cross_recording": {
            "pairs": [{"a": first, "b": second, "distance": 0.83, "same_person": False}],
            "different_people": [second], "skipped": [], "risk": 1.0, "confidence": 1.0, "threshold": 0.6}},
    }
    report.pop("files", None)
    return report


def test_minimum_size_fits_1024x700_with_results_on_every_page(window: Any, tmp_path: Path) -> None:
    video = str(tmp_path / "interview with a long file name that would push a column.mkv")
    cid = _candidate_with_report(window, "Ada With A Rather Long Double-Barrelled Name", made_up_report(video, two_recordings=True),
                                 [(video, "video"), (str(tmp_path / "id.jpg"), "id")])
    window.refresh_candidates(select=cid)
    window.select_candidate(cid)
    window.resize(*SMALL)
    for tab in range(window.page.tabs.count()):
        window.page.tabs.setCurrentIndex(tab)
        settle()
        hint = window.minimumSizeHint()
        assert window.minimumWidth() <= SMALL[0] and window.minimumHeight() <= SMALL[1]
        assert hint.width() <= SMALL[0] and hint.height() <= SMALL[1], (tab, hint)
        assert (window.width(), window.height()) == SMALL, f"tab {tab} forced the window to {window.size()}"
    # the player's controls sit below the picture, never under it
    window.page.tabs.setCurrentIndex(1)
    settle()
    player = window.page.player
    assert player.view.geometry().bottom() < player.play_button.geometry().top()
    assert player.view.height() >= 150 and player.time_label.isVisible()
    # the status bar with the message line stays inside the window
    window.show_message("A message that is much longer than the window is wide " * 6, "warning")
    settle()
    bar = window.statusBar()
    assert bar.geometry().bottom() <= window.height() and window.width() == SMALL[0]
    assert window.messages.label.toolTip().startswith("warning: A message")


def test_messages_and_reasons_do_not_move_the_page(window: Any, tmp_path: Path) -> None:
    video = str(tmp_path / "a.mkv")
    cid = _candidate_with_report(window, "Steady Page", made_up_report(video), [(video, "video")])
    window.select_candidate(cid)
    window.resize(*LAPTOP)
    settle()
    top = window.page.tabs.mapTo(window, window.page.tabs.rect().topLeft()).y()
    window.show_message("Added 2 file(s). Press Analyse to check them.", "info")
    settle()
    assert window.page.tabs.mapTo(window, window.page.tabs.rect().topLeft()).y() == top
    window.page.set_candidate(window.page.candidate, window.page.media_rows,
                              {**made_up_report(video), "reasons": ["A long reason. " * 20] * 8})
    settle()
    assert window.page.tabs.mapTo(window, window.page.tabs.rect().topLeft()).y() == top
    # an information message clears itself; an error stays
    window.messages._timer.setInterval(50)
    window.messages._timer.start()
    settle(200)
    assert window.messages.text == ""


def test_compare_six_candidates_scrolls_and_exports_pdf(window: Any, tmp_path: Path) -> None:
    ids = []
    for i in range(6):
        video = str(tmp_path / f"c{i}.mkv")
        ids.append(_candidate_with_report(window, f"Candidate number {i} with a long name", made_up_report(video), [(video, "video")]))
    window.refresh_candidates()
    window.resize(*SMALL)
    window.compare(ids)
    window.compare_view.wait_idle(60_000)
    settle(300)
    assert len(window.compare_view.items) == 6
    assert (window.width(), window.height()) == SMALL, "comparing six candidates widened the window"
    area = window.compare_view.columns_area
    assert area.horizontalScrollBar().maximum() > 0, "six columns scroll inside the view"
    assert window.compare_view.distance_table.rowCount() == 15
    window.views.setCurrentIndex(0)
    settle()
    assert (window.width(), window.height()) == SMALL
    out = window.export_comparison_pdf(str(tmp_path / "comparison.pdf"))
    assert out is not None and out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 5000
    assert (out.stat().st_mode & 0o077) == 0
    from desktop.export import comparison_html

    html, _images = comparison_html([(it.name, it.report, [], []) for it in window.compare_view.items], [])
    assert all(f"Candidate number {i}" in html for i in range(6))


def test_duplicate_names_are_asked_and_kept_apart(window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = window.new_candidate("Alex Kim")
    asked: list[str] = []
    monkeypatch.setattr(window, "_ask_duplicate", lambda name: asked.append(name) or "new")
    second = window.new_candidate("Alex Kim")
    assert asked == ["Alex Kim"]
    assert second != first and window.library.get_candidate(second).name == "Alex Kim (2)"
    assert window.new_candidate("Alex Kim", duplicate="open") == first
    assert window.new_candidate("Alex Kim", duplicate="cancel") is None
    third = window.new_candidate("Alex Kim", duplicate="new")
    assert window.library.get_candidate(third).name == "Alex Kim (3)"
    assert len({first, second, third}) == 3 and len(window.library.candidates("Alex Kim")) == 3


def test_per_file_risk_and_proxy_interview_on_the_page(window: Any, tmp_path: Path) -> None:
    first, second = str(tmp_path / "first interview.mp4"), str(tmp_path / "second interview.mp4")
    cid = _candidate_with_report(window, "Pat Proxy", proxy_report(first, second), [(first, "video"), (second, "video")])
    window.select_candidate(cid)
    table = window.page.media_table
    assert table.horizontalHeaderItem(2).text() == "Risk"
    risks = {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    assert risks["second interview.mp4"].startswith("1.00 high")  # a different person: the identity check
    assert risks["first interview.mp4"].endswith("low")
    assert "different person" in table.item(1, 3).text()
    ident = window.page.identity_summary.text()
    assert "different people" in ident and "0.83" in ident and "second interview.mp4" in ident


def test_report_names_the_suspicious_recording_without_folders() -> None:
    from detectors.base import Finding
    from detectors.report import MediaEntry, Report

    folder = "/home/reviewer/cases/2026/"
    swap = Finding("faceswap", 0.85, 0.8, "one: swap", {"recordings": {
        folder + "one.mp4": {"risk": 0.85, "confidence": 0.8, "summary": "blending seams"},
        folder + "two.mp4": {"risk": 0.05, "confidence": 0.8, "summary": "clean"}}})
    report = Report("R", 40.0, "review", 0.6, {"faceswap": swap}, {"faceswap": 60.0},
                    [f"{folder}one.mp4: blending seams (-60 points, faceswap)"],
                    [MediaEntry(folder + "one.mp4", "video"), MediaEntry(folder + "two.mp4", "video"),
                     MediaEntry(folder + "bad.mp4", "unknown", error="not a video")], [f"{folder}bad.mp4: not a video"])
    d = report.to_dict()
    assert not any(folder in r for r in d["reasons"] + d["errors"]), d["reasons"] + d["errors"]
    assert any("Suspicious recording: one.mp4 (high risk 0.85" in r for r in d["reasons"])
    assert [f["name"] for f in d["files"]] == ["one.mp4", "two.mp4"] and d["files"][1]["level"] == "low"
    assert "own risk 0.85 (high)" in report.summary_text() and "own risk 0.05 (low)" in report.summary_text()
    again = Report.from_dict(d).to_dict()
    assert again["reasons"] == d["reasons"]  # a round trip adds nothing twice


def test_little_judged_shows_no_big_number(qtbot: Any) -> None:
    from desktop.widgets import ScoreBadge

    badge = ScoreBadge(big=44)
    qtbot.addWidget(badge)
    badge.set_report({"score": 100.0, "verdict": "review", "confidence": 0.05})
    assert badge.muted and badge.verdict_label.text() == "Too little judged"
    assert "font-size: 22px" in badge.score_label.styleSheet() and "says little" in badge.toolTip()
    badge.set_report({"score": 96.0, "verdict": "authentic", "confidence": 0.8})
    assert not badge.muted and "font-size: 44px" in badge.score_label.styleSheet()
    badge.set_report({"score": 96.0, "verdict": "authentic", "confidence": 0.8}, stale=True)
    assert badge.stale and "Out of date" in badge.toolTip() and "dashed" in badge.styleSheet()
    width = badge.width()
    badge.set_report({"score": 10.0, "verdict": "likely-fake", "confidence": 0.05})
    assert badge.width() == width  # the badge never changes size (the page does not move)
    assert badge.verdict_label.fontMetrics().horizontalAdvance("Too little judged") <= badge.width() - 28


def test_stale_results_are_marked_and_reanalysis_clears_them(window: Any, desktop_media: dict[str, Path], tmp_path: Path) -> None:
    """A later candidate reuses the first one's ID photo: the first is marked out of date."""
    import shutil

    copy = tmp_path / "resubmitted photo.jpg"
    shutil.copy(desktop_media["photo"], copy)
    first = window.new_candidate("First Applicant")
    add_and_wait(window, [desktop_media["photo"]])
    window.analyse()
    assert wait_finished(window)[1] == "done"
    assert window.library.stale_reasons(first) == []
    later = window.new_candidate("Later Applicant")
    add_and_wait(window, [copy])
    window.analyse()
    assert wait_finished(window)[1] == "done"
    reasons = window.library.stale_reasons(first)
    assert reasons and "Later Applicant" in reasons[0] and "photo" in reasons[0], reasons
    window.select_candidate(first)
    assert window.page.analyse_button.text().replace("&", "") == "Re-analyse"
    assert "Out of date" in window.page.reasons_label.text() and window.page.badge.stale
    listed = [window.candidate_list.item(i).text() for i in range(window.candidate_list.count())]
    assert any("First Applicant" in t and "out of date" in t for t in listed)
    window.verdict_box.setCurrentIndex([k for _l, k in __import__("desktop.app", fromlist=["VERDICT_FILTERS"]).VERDICT_FILTERS].index("stale"))
    assert [window.candidate_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(window.candidate_list.count())] == [first]
    window.verdict_box.setCurrentIndex(0)
    window.analyse(first)
    assert wait_finished(window)[1] == "done"
    assert window.library.stale_reasons(first) == []
    # the re-analysis found the later candidate too, whose report already names the first: no ping-pong
    assert window.library.stale_reasons(later) == []
    # removing a file marks the later candidate's results out of date too
    window.select_candidate(later)
    media_id = window.library.media(later)[0].id
    window.remove_media(media_id)
    assert any("was removed" in r for r in window.library.stale_reasons(later))


def test_keyboard_rename_sort_filter_about_and_folders(window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _candidate_with_report(window, "Bea Low", {**made_up_report(str(tmp_path / "a.mkv")), "score": 20.0, "verdict": "likely-fake"})
    b = _candidate_with_report(window, "Cal High", {**made_up_report(str(tmp_path / "b.mkv")), "score": 90.0, "verdict": "authentic"})
    c = window.library.add_candidate("Dee New")
    window.refresh_candidates()

    def listed() -> list[Any]:
        return [window.candidate_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(window.candidate_list.count())]

    assert listed() == [a, b, c]  # by name
    window.sort_box.setCurrentIndex(2)  # highest score first, not analysed last
    assert listed() == [b, a, c]
    window.sort_box.setCurrentIndex(1)
    assert listed() == [a, b, c]
    window.verdict_box.setCurrentIndex(4)  # not analysed
    assert listed() == [c]
    window.verdict_box.setCurrentIndex(0)
    # Ctrl+F searches, Ctrl+, opens Settings (shortcuts exist and point at the right actions)
    assert window.act_find.shortcut().toString() == "Ctrl+F" and window.act_settings.shortcut().toString() == "Ctrl+,"
    window.activateWindow()
    window.act_find.trigger()
    assert window.search.hasFocus() or QApplication.focusWidget() is window.search or window.isActiveWindow() is False
    # Delete on the list asks before erasing (No: nothing happens)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or QMessageBox.StandardButton.No)
    window.refresh_candidates(select=a)
    window.select_candidate(a)
    window.act_delete.trigger()
    assert asked and "Bea Low" in asked[0] and window.library.get_candidate(a) is not None
    assert window.act_delete.shortcut().matches(window.act_delete.shortcut()) and window.act_delete.shortcut().toString() == "Del"
    # rename (F2)
    assert window.act_rename.shortcut().toString() == "F2"
    assert window.rename_candidate(a, "Bea Renamed") and window.library.get_candidate(a).name == "Bea Renamed"
    assert not window.rename_candidate(a, "Cal High")  # taken: refused, said
    assert "could not be renamed" in window.messages.text
    # mnemonics on the page's buttons and menus
    assert window.page.analyse_button.text().startswith("&") or "&" in window.page.analyse_button.text()
    assert all("&" in m.title() for m in window.menuBar().findChildren(type(window.menuBar().actions()[0].menu())) if m.title())
    # Help > About: version and the library's location
    text = window.about_text()
    assert str(window.library_path) in text.replace("&amp;", "&") and "Telltale" in text
    # the Analyses panel can be closed and brought back
    window.jobs_dock.close()
    assert not window.jobs_dock.isVisible()
    window.act_jobs.trigger()
    assert window.jobs_dock.isVisible()
    # file dialogs start in the last folder used
    folder = tmp_path / "recordings here"
    folder.mkdir()
    window._remember_folder(str(folder / "x.mp4"))
    assert window._last_folder() == str(folder)


def test_player_starts_at_zero_for_another_candidate(window: Any, desktop_media: dict[str, Path]) -> None:
    first = window.new_candidate("Player One")
    add_and_wait(window, [desktop_media["clip"]])
    window.page.tabs.setCurrentIndex(1)
    window.page.seek(2.0)
    assert window.page.player.position > 1.5
    window.new_candidate("Player Two")  # no recordings
    assert window.page.player.time_label.text().startswith("0:00.0")
    assert window.page.player.slider.value() == 0
    window.select_candidate(first)
    assert window.page.player.position < 0.2


def test_evidence_pictures_of_any_check_are_shown_and_enlarge(window: Any, tmp_path: Path) -> None:
    video = str(tmp_path / "a.mkv")
    report = made_up_report(video)
    report["checks"]["idphoto"] = {"risk": 0.3, "confidence": 0.6, "summary": "Pixels look edited; metadata is only a weak hint.",
                                   "evidence": {"spectrum_png": _png((10, 200, 10)), "ela_png": _png((200, 10, 10)),
                                                "eyes": [{"crop_png": _png((1, 2, 3))}], "note": "x"}}
    cid = _candidate_with_report(window, "Evi Dence", report, [(video, "video")])
    window.select_candidate(cid)
    window.page.tabs.setCurrentIndex(3)
    from desktop.widgets import PictureCard

    cards = window.page.tabs.currentWidget().findChildren(PictureCard)
    labels = [c.caption for c in cards]
    assert {"spectrum", "ela", "eyes 1\ncrop"} <= set(labels), labels
    assert any(lab.startswith("top frames 1\n") for lab in labels)
    card = next(c for c in cards if c.caption == "ela")
    card.enlargeRequested.emit()
    dialog = window.page.dialogs[-1]
    assert dialog.isVisible() and "ela" in dialog.windowTitle()
    from desktop.widgets import ColourScale

    assert dialog.findChildren(ColourScale), "a false-colour picture shows its colour scale"
    dialog.close()


def test_desktop_help_and_library_option(tmp_path: Path) -> None:
    from desktop.app import parse_args

    args = parse_args(["telltale-desktop", "--library", str(tmp_path / "lib.sqlite"), "-platform", "offscreen"])
    assert args.library == str(tmp_path / "lib.sqlite")
    with pytest.raises(SystemExit) as exc:
        parse_args(["telltale-desktop", "--help"])
    assert exc.value.code == 0
