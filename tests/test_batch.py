"""Batch screening on a real Dask LocalCluster (worker processes, no mock).

The fixture folder holds three candidates made by tests/fixtures: Alice (a talking-head
interview and a photo of herself), Bob (another recording and the same photo, under his name) and Carol (a recording and a damaged file). The batch must flag Alice and Bob against
each other, name Carol's damaged file, store and write every report, and skip on a re-run
whatever did not change.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fixtures.simple_media import astronaut_face, write_video
from fixtures.talking_head import make_talking_head

from detectors.batch.folder import inputs_key, role_of, scan_folder
from detectors.batch.runner import DASK_CONFIG, BatchOptions, report_file_name, run_batch
from detectors.store.sqlite import Library


def _make_folder(root: Path) -> Path:
    for name in ("Alice Able", "Bob Baker", "Carol Cole", "Erin Eve"):
        (root / name).mkdir(parents=True)
    make_talking_head(root / "Alice Able" / "interview.mkv", duration_s=3.0, fps=25, audio_offset_s=0.0, seed=1)
    make_talking_head(root / "Erin Eve" / "call.mkv", duration_s=2.0, fps=25, audio_offset_s=0.0, seed=2)
    Image.fromarray(astronaut_face()).save(root / "Alice Able" / "headshot.jpg", quality=95)
    Image.fromarray(astronaut_face()).save(root / "Bob Baker" / "portrait.png")
    write_video(root / "Bob Baker" / "call.mp4", frames=20)
    write_video(root / "Carol Cole" / "call.mp4", frames=20, seed=3)
    (root / "Carol Cole" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 40)
    (root / "loose_file.txt").write_text("outside any candidate folder: ignored")
    return root


@pytest.fixture(scope="module")
def scheduler_address() -> Any:
    """A running Dask cluster (one worker process) the later runs join with --scheduler, as a
    team's cluster would be joined; set up with the batch's Dask settings."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(DASK_CONFIG):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                               scheduler_kwargs={"dashboard": False}, silence_logs=logging.CRITICAL)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("batch")
    folder = _make_folder(base / "candidates")
    library = base / "library.sqlite"
    out = base / "reports"
    events: list[Any] = []
    result = run_batch(folder, out, str(library), BatchOptions(workers=2), events.append)
    return {"base": base, "folder": folder, "library": library, "out": out, "result": result, "events": events}


def test_scan_roles_and_hashes(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "c")
    (folder / "Carol Cole" / "passport-2.JPG").write_bytes((folder / "Alice Able" / "headshot.jpg").read_bytes())
    (folder / "Carol Cole" / "idris.jpg").write_bytes((folder / "Alice Able" / "headshot.jpg").read_bytes())
    (folder / "Carol Cole" / "ID.png").write_bytes((folder / "Bob Baker" / "portrait.png").read_bytes())
    (folder / "Carol Cole" / "roles.csv").write_text("file,role\nidris.jpg,id\ncall.mp4,ignore\n")
    cands = {c.name: c for c in scan_folder(folder)}
    assert sorted(cands) == ["Alice Able", "Bob Baker", "Carol Cole", "Erin Eve"]
    alice = cands["Alice Able"]
    assert [Path(f.path).name for f in alice.of_role("photo")] == ["headshot.jpg"] and not alice.of_role("id")
    assert [Path(f.path).name for f in alice.recordings] == ["interview.mkv"]
    carol = {Path(f.path).name: f.role for f in cands["Carol Cole"].files}
    # passport*/ID by name, idris.jpg only because the manifest says so, call.mp4 left out by it
    assert carol == {"broken.mp4": "video", "passport-2.JPG": "id", "idris.jpg": "id", "ID.png": "id"}
    assert role_of(folder / "Bob Baker" / "portrait.png", {}) == "photo"
    # content hashes: Carol's passport file is a byte copy of Alice's photo
    carol_ids = {Path(f.path).name: f.sha256 for f in cands["Carol Cole"].of_role("id")}
    assert carol_ids["passport-2.JPG"] == carol_ids["idris.jpg"] == alice.photos[0].sha256 != carol_ids["ID.png"]
    assert inputs_key(alice.files) == sorted([[f.role, f.sha256] for f in alice.files])


def test_batch_reports_reuse_both_ways_and_names_the_bad_file(first_batch: dict[str, Any]) -> None:
    result = first_batch["result"]
    rows = {r.candidate: r for r in result.rows}
    assert set(rows) == {"Alice Able", "Bob Baker", "Carol Cole", "Erin Eve"}
    assert all(r.status == "analysed" for r in rows.values()), [(r.candidate, r.errors) for r in rows.values()]
    assert result.workers == 2 and not result.interrupted
    # the same photo under two names, and the same face in a third interview: each is flagged
    # against the others, whatever order they were scored in
    assert rows["Alice Able"].reuse_with == ("Bob Baker", "Erin Eve")
    assert rows["Bob Baker"].reuse_with == ("Alice Able", "Erin Eve")
    assert rows["Erin Eve"].reuse_with == ("Alice Able", "Bob Baker")
    assert rows["Carol Cole"].reuse_with == ()
    kinds = {(m["candidate"], m["other"], m["kind"]) for m in result.reuse}
    assert ("Alice Able", "Bob Baker", "same-image") in kinds and ("Bob Baker", "Alice Able", "same-image") in kinds
    assert ("Erin Eve", "Alice Able", "same-face") in kinds and ("Alice Able", "Erin Eve", "same-face") in kinds
    assert set(result.rescored) <= {"Alice Able", "Bob Baker", "Erin Eve"}
    # another candidate's photo is decisive: the score is capped
    assert rows["Bob Baker"].score is not None and rows["Bob Baker"].score <= 15.0
    assert rows["Alice Able"].score is not None and rows["Alice Able"].score <= 15.0
    # Carol's damaged file is named with its problem; her other recording was analysed
    carol = rows["Carol Cole"]
    assert len(carol.errors) == 1 and "broken.mp4" in carol.errors[0]
    assert carol.files == 2 and carol.score is not None
    # sorted by score, most suspicious first
    scores = [r.score for r in result.rows]
    assert scores == sorted(scores)


def test_batch_writes_reports_summary_and_library(first_batch: dict[str, Any]) -> None:
    out: Path = first_batch["out"]
    result = first_batch["result"]
    with open(result.summary_csv, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["candidate"] for r in table] == [r.candidate for r in result.rows]
    assert {"candidate", "score", "verdict", "top_reason", "files", "errors"} <= set(table[0])
    summary = json.loads(Path(result.summary_json).read_text())
    assert [c["candidate"] for c in summary["candidates"]] == [r.candidate for r in result.rows]
    assert summary["workers"] == 2 and len(summary["worker_peak_rss_mb"]) == 2
    assert all(mb > 50 for mb in summary["worker_peak_rss_mb"].values())  # a worker holding the models
    for row in result.rows:
        report = json.loads((out / report_file_name(row.candidate)).read_text())
        assert report["candidate"] == row.candidate and report["score"] == pytest.approx(row.score, abs=0.05)
        assert report["batch"]["inputs"]  # what a re-run compares
        assert oct((out / report_file_name(row.candidate)).stat().st_mode & 0o777) == "0o600"
    with Library(first_batch["library"]) as lib:
        for row in result.rows:
            stored = lib.latest_report(row.candidate)
            assert stored is not None and stored["score"] == pytest.approx(row.score, abs=0.05)
        # the interview's face was registered for later batches
        assert any(m.role == "video" and m.faces >= 1 for m in lib.media("Alice Able"))
    done = [e for e in first_batch["events"] if e.event == "done"]
    assert [e.done for e in done] == [1, 2, 3, 4] and done[-1].total == 4 and done[-1].eta_s == pytest.approx(0.0)
    with Library(first_batch["library"]) as lib:  # the second look cleared every out-of-date mark
        assert all(lib.stale_reasons(r.candidate) == [] for r in result.rows)


def test_rerun_skips_unchanged_and_redoes_changed(first_batch: dict[str, Any], scheduler_address: str) -> None:
    folder: Path = first_batch["folder"]
    out: Path = first_batch["out"]
    before = json.loads((out / report_file_name("Alice Able")).read_text())["created_at"]
    # nothing changed: nothing to analyse, no workers started
    again = run_batch(folder, out, str(first_batch["library"]), BatchOptions(workers=1))
    assert {r.status for r in again.rows} == {"unchanged"} and again.workers == 0
    assert json.loads((out / report_file_name("Alice Able")).read_text())["created_at"] == before
    # Carol's recording replaced, and Dave joins with the photo Alice and Bob share
    write_video(folder / "Carol Cole" / "call.mp4", frames=24, seed=9)
    (folder / "Dave Doe").mkdir()
    Image.fromarray(astronaut_face()).save(folder / "Dave Doe" / "photo.png")
    third = run_batch(folder, out, str(first_batch["library"]), BatchOptions(scheduler=scheduler_address))
    status = {r.candidate: r.status for r in third.rows}
    reuse = {r.candidate: r.reuse_with for r in third.rows}
    # Carol and Dave are analysed; Alice and Bob, unchanged, did not see Dave when they were
    # scored, so they are scored again and the flag holds both ways
    assert set(status.values()) == {"analysed"} and len(status) == 5
    assert third.rescored == ("Alice Able", "Bob Baker", "Erin Eve")
    assert reuse["Dave Doe"] == ("Alice Able", "Bob Baker", "Erin Eve")
    assert reuse["Alice Able"] == ("Bob Baker", "Dave Doe", "Erin Eve") and reuse["Bob Baker"] == ("Alice Able", "Dave Doe", "Erin Eve")
    assert reuse["Carol Cole"] == ()
    with Library(first_batch["library"]) as lib:
        assert len(lib.reports("Carol Cole")) == 2 and len(lib.reports("Dave Doe")) == 1
        assert all(lib.stale_reasons(n) == [] for n in status)  # no report left out of date


def test_cancel_keeps_finished_and_lists_the_rest(tmp_path: Path, scheduler_address: str) -> None:
    folder = tmp_path / "c"
    for i in range(3):
        (folder / f"P{i}").mkdir(parents=True)
        write_video(folder / f"P{i}" / "call.mp4", frames=15, seed=i)
    cancel = threading.Event()

    def stop_after_first(p: Any) -> None:
        if p.event == "done":
            cancel.set()

    options = BatchOptions(scheduler=scheduler_address)
    result = run_batch(folder, tmp_path / "out", str(tmp_path / "lib.sqlite"), options, stop_after_first, cancel)
    assert result.interrupted
    status = [r.status for r in result.rows]
    assert status.count("analysed") >= 1 and status.count("analysed") + status.count("not-run") == 3
    # a re-run completes only the missing ones
    rest = run_batch(folder, tmp_path / "out", str(tmp_path / "lib.sqlite"), options)
    assert not rest.interrupted
    assert sorted(r.status for r in rest.rows) == sorted(["unchanged"] * status.count("analysed") + ["analysed"] * status.count("not-run"))


def test_the_same_voice_under_two_names_is_flagged_both_ways_and_stored(tmp_path: Path, scheduler_address: str) -> None:
    """Two candidates, no face and no photo in common, one speaker (two utterances of the same
    synthetic voice): the batch stores each recording's voice print with its report and flags
    the pair both ways, whichever was scored first; a third speaker is flagged with nobody."""
    from fixtures.voices import SPEAKER_A, SPEAKER_B, utterance, write_clip

    folder = tmp_path / "c"
    for name in ("Gil Grey", "Hal Hart", "Ivy Ives"):
        (folder / name).mkdir(parents=True)
    write_clip(folder / "Gil Grey" / "call.mp4", utterance(SPEAKER_A, 9, 11))
    write_clip(folder / "Hal Hart" / "call.mp4", utterance(SPEAKER_A, 9, 12))
    write_clip(folder / "Ivy Ives" / "call.mp4", utterance(SPEAKER_B, 9, 13))
    result = run_batch(folder, tmp_path / "out", str(tmp_path / "lib.sqlite"), BatchOptions(scheduler=scheduler_address))
    rows = {r.candidate: r for r in result.rows}
    assert all(r.status == "analysed" for r in rows.values()), [(r.candidate, r.errors) for r in rows.values()]
    assert rows["Gil Grey"].reuse_with == ("Hal Hart",) and rows["Hal Hart"].reuse_with == ("Gil Grey",)
    assert rows["Ivy Ives"].reuse_with == ()
    kinds = {(m["candidate"], m["other"], m["kind"], m["file"]) for m in result.reuse}
    assert kinds == {("Gil Grey", "Hal Hart", "same-voice", "call.mp4"), ("Hal Hart", "Gil Grey", "same-voice", "call.mp4")}
    # the prints are in the library for later searches: Gil's voice, analysed again, finds Hal's
    from detectors.pipeline import analyze_recording
    from detectors.voice_check import storable_print

    gil = storable_print(analyze_recording(str(folder / "Gil Grey" / "call.mp4")).voice)
    assert gil is not None
    with Library(tmp_path / "lib.sqlite") as lib:
        assert all(lib.latest_report(name) is not None for name in rows)
        assert [h["candidate"] for h in lib.search_voices(gil.embedding, exclude_candidate="Gil Grey")] == ["Hal Hart"]


def _count_and_die(log_file: str) -> int:
    with open(log_file, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    os._exit(1)  # the worker process dies, as with kill -9 or the OOM killer


def test_a_task_whose_worker_dies_fails_at_once_for_the_batch_to_retry(tmp_path: Path) -> None:
    """The Dask settings the batch runs with (DASK_CONFIG), on real worker processes: a task
    whose worker dies fails with KilledWorker after ALLOWED_WORKER_DEATHS + 1 attempts (one),
    and the batch, not Dask, submits the candidate once more (WORKER_DEATH_RETRIES)."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.scheduler import KilledWorker

    from detectors.batch.runner import ALLOWED_WORKER_DEATHS, WORKER_DEATH_RETRIES

    attempts = tmp_path / "attempts"
    with dask.config.set(DASK_CONFIG), LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                                    dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                                                    silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        first = set(client.run(os.getpid).values())
        with pytest.raises(KilledWorker):
            client.submit(_count_and_die, str(attempts), pure=False).result(timeout=180)
    pids = attempts.read_text().split()
    assert len(pids) == ALLOWED_WORKER_DEATHS + 1 == 1 and set(map(int, pids)) == first
    assert WORKER_DEATH_RETRIES == 1


# --------------------------------------------------------------------------- the desktop dialog


def _qt_ready() -> None:
    pytest.importorskip("pytestqt")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):  # cv2 points Qt at its own plugins
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def qapp() -> Any:
    """pytest-qt's application, made after clearing what cv2 (imported by the engine) set."""
    _qt_ready()
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def test_desktop_dialog_runs_the_batch_and_announces_each_candidate(first_batch: dict[str, Any], qtbot: Any) -> None:
    _qt_ready()
    from desktop.batch import BatchDialog

    dialog = BatchDialog(str(first_batch["library"]), folder=str(first_batch["folder"]))
    # should the test fail with the batch still running, cancel it before pytest-qt closes the
    # dialog: its close would otherwise ask a question nobody answers
    qtbot.addWidget(dialog, before_close_func=lambda d: (d.cancel(), d.wait(120.0)))
    announced: list[str] = []
    dialog.candidateFinished.connect(announced.append)
    with qtbot.waitSignal(dialog.batchFinished, timeout=120_000) as finished:
        assert dialog.start()
    result = finished.args[0]
    assert result is not None and not result.interrupted
    # every candidate of the folder is in the list, and was announced to the main window
    assert sorted(announced) == ["Alice Able", "Bob Baker", "Carol Cole", "Dave Doe", "Erin Eve"]
    lines = [dialog.done_list.item(i).text() for i in range(dialog.done_list.count())]
    assert sum(1 for line in lines if "Alice Able" in line) >= 1 and any("Same face, photo or voice" in line for line in lines)
    assert dialog.status.text().startswith("Finished") and dialog.start_button.isEnabled()
    assert Path(result.summary_csv).is_file()
    # finished means not running, at once: closing does not ask whether to cancel (a modal
    # question on a finished batch hung the app's close and this test's teardown)
    assert not dialog.running and dialog.close()


def test_desktop_menu_action_and_no_library(qtbot: Any) -> None:
    _qt_ready()
    from PySide6.QtWidgets import QMainWindow

    from desktop.batch import ACTION_TEXT, MENU_TITLE, install, open_dialog

    window = QMainWindow()
    qtbot.addWidget(window)
    analysis = window.menuBar().addMenu(MENU_TITLE)
    install(window)
    assert [a.text() for a in analysis.actions()] == [ACTION_TEXT]
    messages: list[str] = []
    window.library = None
    window.show_message = lambda text, level="error": messages.append(text)  # type: ignore[attr-defined]
    assert open_dialog(window) is None and messages and "library" in messages[0].lower()
