"""Analyse folder…: the batch (``telltale batch``) from the app, on local Dask workers.

The dialog asks for a folder (one subfolder per candidate), runs
:func:`detectors.batch.runner.run_batch` on a Python thread (the batch's client; the analyses
themselves run in the Dask worker processes), shows the progress (candidates done, failures,
ETA) and a line per finished candidate, and can cancel: the candidates already finished stay
in the library and the next run of the same folder continues with the others. Each finished
candidate is announced with :attr:`BatchDialog.candidateFinished`, which the main window
connects to its list refresh, so candidates appear as they finish.

:func:`install` adds the menu action to a main window (one call from ``desktop/app.py``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

MENU_TITLE = "&Analysis"
"""The main window's menu the action joins (created when missing)."""

ACTION_TEXT = "Analyse &folder…"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


class _Relay(QObject):
    """Carries the batch thread's news to the GUI thread (queued signals)."""

    progress = Signal(object)  # detectors.batch.runner.BatchProgress
    finished = Signal(object)  # BatchResult
    failed = Signal(str)


def default_out_dir(library_path: Any, folder: str | Path) -> Path:
    """Reports go beside the library, in ``batches/<folder name>``."""
    base = Path(library_path).parent if library_path else Path.home()
    return base / "batches" / Path(folder).name


class BatchDialog(QDialog):
    candidateFinished = Signal(str)  # noqa: N815 - a candidate's report is in the library
    batchFinished = Signal(object)  # noqa: N815 - the BatchResult (None when it could not start)

    def __init__(self, library_location: str | None, settings: dict[str, Any] | None = None,
                 folder: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from detectors.batch.runner import default_workers

        self.setWindowTitle("Analyse a folder of candidates")
        self.setMinimumWidth(560)
        self.library_location = library_location
        self.settings = dict(settings or {})
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._busy = False  # set on start, cleared when the result reaches this (GUI) thread
        self.result: Any = None
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)

        self.folder_edit = QLineEdit(folder or "")
        self.folder_edit.setPlaceholderText("A folder with one subfolder per candidate")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.workers = QSpinBox()
        self.workers.setRange(1, 64)
        self.workers.setValue(default_workers())
        self.workers.setToolTip("Worker processes on this computer; each analysis already uses about two cores")
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Workers", self.workers)

        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel("Each subfolder is a candidate (its name); recordings and photos inside. "
                             "Files named id…, passport… or license… are ID photos.")
        self.status.setWordWrap(True)
        self.done_list = QListWidget()
        self.done_list.setObjectName("BatchResults")

        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel", QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.done_list, 1)
        layout.addWidget(self.buttons)

    # -- actions -----------------------------------------------------------------
    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder of candidates", self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    @property
    def running(self) -> bool:
        """A batch is under way: from start until its result (or failure) is shown here. Not the
        worker thread's liveness: that thread lives a moment after it has handed over its result,
        and closing the dialog then must not ask whether to cancel a finished batch."""
        return self._busy

    def start(self) -> bool:
        """Start the batch on the chosen folder; False (with the reason shown) when it cannot."""
        if self.running:
            return False
        folder = self.folder_edit.text().strip()
        if not folder or not Path(folder).is_dir():
            self.status.setText("Choose a folder that exists.")
            return False
        from detectors.batch.runner import BatchOptions, run_batch

        out = default_out_dir(self.library_location, folder)
        options = BatchOptions(workers=self.workers.value(), settings=self.settings)
        self.cancel_event.clear()
        self.done_list.clear()
        self.bar.setRange(0, 0)  # busy until the folder is scanned
        self.status.setText("Starting the workers and loading the models…")
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        relay = self._relay

        def work() -> None:
            try:
                result = run_batch(folder, out, self.library_location, options, relay.progress.emit, self.cancel_event)
            except Exception as exc:  # noqa: BLE001 - shown in the dialog
                log.exception("batch failed")
                relay.failed.emit(str(exc))
                return
            relay.finished.emit(result)

        self.thread = threading.Thread(target=work, name="telltale-batch", daemon=True)
        self._busy = True
        self.thread.start()
        return True

    def cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self.status.setText("Cancelling: finished candidates are kept…")
            self.cancel_button.setEnabled(False)

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Block until the batch thread ends (tests, closing the app)."""
        if self.thread is not None:
            self.thread.join(timeout_s)
            if not self.thread.is_alive():
                QCoreApplication.sendPostedEvents()  # the result the thread posted, so running is current
        return not self.running

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        if self.running:
            answer = QMessageBox.question(self, "Batch running", "Cancel the batch? Finished candidates are kept.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.cancel()
            self.wait(120.0)
        super().closeEvent(event)

    # -- news from the batch ---------------------------------------------------------
    def _on_progress(self, p: Any) -> None:
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.done)
        if p.event in ("done", "failed", "skipped", "rescored") and p.row is not None:
            r = p.row
            if r.score is not None:
                line = f"{r.score:5.0f}  {r.verdict:<11}  {r.candidate}" + ("  (unchanged)" if r.status == "unchanged" else "")
            else:
                line = f"    –  failed       {r.candidate}: {'; '.join(r.errors)}"
            self.done_list.addItem(line)
            self.done_list.scrollToBottom()
            if r.score is not None:
                self.candidateFinished.emit(r.candidate)
        text = f"{p.done}/{p.total} candidates, {p.failed} failed, {p.skipped} unchanged"
        if p.total and p.done < p.total:
            text += f" — about {_clock(p.eta_s)} left"
        self.status.setText(f"{text}\n{p.message}")

    def _on_finished(self, result: Any) -> None:
        self.result = result
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        state = "Cancelled" if result.interrupted else "Finished"
        self.status.setText(
            f"{state}: {result.count('analysed')} analysed, {result.count('unchanged')} unchanged, "
            f"{result.count('failed')} failed, {result.count('not-run')} not run, in {_clock(result.wall_s)}. "
            f"Reports and summary: {result.out_dir}"
        )
        same = [m for m in result.reuse if m.get("kind") != "look-alike"]
        alike = [m for m in result.reuse if m.get("kind") == "look-alike"]
        for found, words in ((same, "Same face, photo or voice under two names: "),
                             (alike, "Look-alike faces under two names (compare them by eye): ")):
            if found:
                pairs = sorted({" & ".join(sorted((m["candidate"], m["other"]))) for m in found})
                self.done_list.addItem(words + ", ".join(pairs))
        self._idle()
        self.batchFinished.emit(result)

    def _on_failed(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status.setText(f"The batch could not run: {message}")
        self._idle()
        self.batchFinished.emit(None)

    def _idle(self) -> None:
        self._busy = False
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Close")


def _library_location(window: Any) -> str | None:
    library = getattr(window, "library", None)
    if library is None:
        return None
    location = getattr(library, "location", None) or getattr(library, "path", None)
    return str(location) if location is not None else None


def open_dialog(window: Any) -> BatchDialog | None:
    """The dialog for ``window``'s library; finished candidates refresh its list."""
    location = _library_location(window)
    if location is None:
        if hasattr(window, "show_message"):
            window.show_message("Open a library first (Settings).", "error")
        return None
    config = getattr(window, "config", None)
    settings = config.overrides() if config is not None and hasattr(config, "overrides") else {}
    dialog = BatchDialog(location, settings, parent=window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    refresh = getattr(window, "refresh_candidates", None)
    if refresh is not None:
        dialog.candidateFinished.connect(lambda _name: refresh())
        dialog.batchFinished.connect(lambda _result: refresh())
    window._batch_dialog = dialog  # keep it alive while it runs
    dialog.show()
    return dialog


def install(window: QMainWindow) -> QAction:
    """Add "Analyse folder…" to the window's Analysis menu (the one hook in desktop/app.py)."""
    menu = next((a.menu() for a in window.menuBar().actions() if a.menu() is not None and a.text() == MENU_TITLE), None)
    if menu is None:
        menu = window.menuBar().addMenu(MENU_TITLE)
    action = QAction(ACTION_TEXT, window)
    action.setToolTip("Analyse every candidate in a folder (one subfolder each) on local workers")
    action.triggered.connect(lambda _checked=False: open_dialog(window))
    menu.addAction(action)
    window.act_analyse_folder = action
    return action
