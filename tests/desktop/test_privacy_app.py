"""Candidate data protection in the app, offscreen: erasing a candidate (with a confirmation, and
after stopping their analysis), and the retention setting reaching the library."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from test_app import add_and_wait, wait_finished

ERASE_TIMEOUT_MS = 60_000
OLD_ACTIVITY = "2001-01-01T00:00:00+00:00"


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make every confirmation answer ``button``; the texts the user would have read."""
    asked: list[str] = []

    def question(_parent: Any, title: str, text: str, *_args: Any, **_kwargs: Any) -> QMessageBox.StandardButton:
        asked.append(f"{title}\n{text}")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def listed_names(window: Any) -> list[str]:
    return [window.candidate_list.item(i).text().split("\n")[0] for i in range(window.candidate_list.count())]


def test_erase_candidate_asks_first_then_leaves_no_trace(window: Any, desktop_media: dict[str, Path],
                                                         qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = window.new_candidate("Kept Candidate")
    cid = window.new_candidate("Erin Erased")
    assert add_and_wait(window, [desktop_media["photo"]]) == 1
    assert window.library.search(str(desktop_media["photo"])), "the photo must be found before the erasure"

    # No: the page's button asks, naming the candidate and what goes; nothing is erased
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    assert window.page.erase_button.isEnabled()
    window.page.erase_button.click()
    assert len(asked) == 1
    text = asked[0]
    assert "Erin Erased" in text and "cannot be undone" in text
    for what in ("photo hash", "face embedding", "report", "audit path"):
        assert what in text, what
    assert window.library.get_candidate(cid) is not None
    assert "Erin Erased" in listed_names(window)
    assert window.library.search(str(desktop_media["photo"]))

    # Yes, from the menu: the candidate, their photo's hashes and face are gone
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    menus = {a.text(): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
    erase = next(a for a in menus["&Privacy"].actions() if a.text().replace("&", "") == "Erase candidate…")
    with qtbot.waitSignal(window.candidateErased, timeout=ERASE_TIMEOUT_MS) as sig:
        erase.trigger()
    assert sig.args == [cid, True] and len(asked) == 1
    assert window.library.get_candidate(cid) is None
    assert listed_names(window) == ["Kept Candidate"]
    assert window.current_id is None and window.page.name_label.text() == "No candidate selected"
    assert not window.page.erase_button.isEnabled()
    assert window.library.search(str(desktop_media["photo"])) == []
    assert "erased" in window.messages.text.lower()
    entries = [e for e in window.library.audit_log(limit=50) if e["action"] == "erase-candidate"]
    assert [(e["subject"], e["detail"]["reason"], e["detail"]["media"]) for e in entries] == [(f"candidate#{cid}", "request", 1)]
    assert window.library.get_candidate(keeper) is not None


def test_erase_stops_a_running_analysis_first(window: Any, desktop_media: dict[str, Path],
                                              qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Erase while the candidate checks run, and they finish anyway (as if build_report had not
    looked at the cancel yet): nothing of the analysis is saved, and its end (which stores the
    candidate's faces by name) does not bring the candidate back: the erasure waits for it."""
    from detectors import pipeline

    from desktop.workers import CANDIDATE_STEP

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    asked_to_erase = threading.Event()
    real_build_report = pipeline.build_report

    def build_report_that_finishes(*args: Any, **kwargs: Any) -> Any:
        assert asked_to_erase.wait(ERASE_TIMEOUT_MS / 1000)
        return real_build_report(*args, **{**kwargs, "cancel": None})

    monkeypatch.setattr(pipeline, "build_report", build_report_that_finishes)
    cid = window.new_candidate("Mid Analysis")
    assert add_and_wait(window, [desktop_media["clip"], desktop_media["photo"]]) == 2
    job = window.analyse()
    assert job is not None
    started: list[bool] = []

    def on_progress(_job: str, key: str, _f: float, _m: str) -> None:
        if key == CANDIDATE_STEP and not started:
            started.append(window.erase_candidate(cid))
            asked_to_erase.set()

    job.signals.progress.connect(on_progress)
    with qtbot.waitSignal(window.candidateErased, timeout=ERASE_TIMEOUT_MS) as sig:
        status = wait_finished(window)[1]
    assert started == [True]
    assert sig.args == [cid, True]
    assert status == "done"  # it ran to its end (record_candidate included) before the erasure
    assert "report ready" in window.jobs_panel.boxes[job.job_id].rows[CANDIDATE_STEP].status.text()
    assert window.pool.waitForDone(10_000)
    QApplication.processEvents()
    assert window.library.candidates() == []  # not re-created by the analysis' record_candidate
    assert window.library.get_candidate("Mid Analysis") is None
    assert window.library.latest_report(cid) is None
    assert window.library.search(str(desktop_media["photo"])) == []
    assert listed_names(window) == []
    # the analysis cannot be restarted for an erased candidate
    assert window.analyse(cid) is None


def _age_candidate(db: Path, cid: int) -> None:
    """Make a candidate's every activity (created, files, faces, reports) look decades old."""
    con = sqlite3.connect(str(db))
    with con:
        con.execute("UPDATE candidates SET created_at = ? WHERE id = ?", (OLD_ACTIVITY, cid))
        for table, column in (("media", "added_at"), ("faces", "added_at"), ("reports", "created_at")):
            con.execute(f"UPDATE {table} SET {column} = ? WHERE candidate_id = ?", (OLD_ACTIVITY, cid))
    con.close()


def test_engine_open_library_takes_retention_from_the_overrides(tmp_path: Path) -> None:
    from desktop import engine

    lib = engine.open_library(tmp_path / "lib.sqlite", {"library.retention_days": 30.0})
    try:
        assert lib.retention_days == 30.0
    finally:
        lib.close()
    lib = engine.open_library(tmp_path / "lib.sqlite", {})
    try:
        assert lib.retention_days == 0.0  # nothing set: the library's policy (the default: keep)
    finally:
        lib.close()


def test_retention_from_settings_erases_expired_candidates(window: Any, desktop_media: dict[str, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.settings_dialog import SettingsDialog

    old = window.new_candidate("Long Ago")
    assert add_and_wait(window, [desktop_media["photo"]]) == 1
    recent = window.new_candidate("Just Now")
    _age_candidate(window.library_path, old)
    window.reopen_library()  # no retention set: both stay
    assert listed_names(window) == ["Just Now", "Long Ago"]

    def exec_with_retention(dialog: SettingsDialog) -> int:
        assert "library.retention_days" in dialog.spins  # the Settings dialog offers it
        dialog.spins["library.retention_days"].setValue(30)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", exec_with_retention)
    window.select_candidate(recent)
    window.open_settings()
    assert window.config.overrides()["library.retention_days"] == 30
    assert window.library.retention_days == 30
    assert listed_names(window) == ["Just Now"]
    assert window.current_id == recent  # the selection survives the reopening
    assert window.library.search(str(desktop_media["photo"])) == []
    assert "1 candidate(s)" in window.messages.text and "erased" in window.messages.text  # still shown
    entries = [e for e in window.library.audit_log(limit=50) if e["action"] == "erase-candidate"]
    assert [(e["subject"], e["detail"]["reason"]) for e in entries] == [(f"candidate#{old}", "retention")]


def test_settings_show_a_stored_retention_policy_and_keep_forever_overrides_it(window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy stored by `telltale library retention --days 30` is what Settings shows; choosing
    0 (keep forever) there is kept as the user's choice and overrides the stored policy."""
    from desktop.settings_dialog import SettingsDialog

    window.library.set_retention_days(30.0)
    window.reopen_library()
    assert window.library.retention_days == 30.0
    shown: list[float] = []

    def exec_keep_forever(dialog: SettingsDialog) -> int:
        shown.append(dialog.spins["library.retention_days"].value())
        dialog.spins["library.retention_days"].setValue(0)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", exec_keep_forever)
    window.open_settings()
    assert shown == [30.0]
    assert window.config.overrides()["library.retention_days"] == 0.0
    assert window.library.retention_days == 0.0

    def exec_unchanged(dialog: SettingsDialog) -> int:
        shown.append(dialog.spins["library.retention_days"].value())
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", exec_unchanged)
    window.open_settings()  # opening and closing Settings keeps the choice
    assert shown[-1] == 0.0 and window.config.overrides()["library.retention_days"] == 0.0
