"""Telltale desktop: the main window and ``main()`` (console script ``telltale-desktop``).

The window holds the candidates list (with search, sorting and a verdict filter), the candidate
page, the compare view and the analyses panel (closable: View menu). All engine work runs in
background pools; the window only reads and writes the library (quick SQLite calls) and draws.
Errors become plain sentences in the message line at the bottom (one line, the full text in its
tooltip, so the page never moves when a message comes or goes); nothing closes the window.

The window fits a laptop screen: every page scrolls inside itself, so the window's minimum size
stays under 1024x700 whatever it shows (``MIN_WINDOW``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Sequence

ENV_VARS_CV2_SETS = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


def prepare_environment() -> None:
    """cv2 (opencv-contrib, not headless) points Qt at its own plugins; PySide6 must use its own."""
    for var in ENV_VARS_CV2_SETS:
        os.environ.pop(var, None)


prepare_environment()

from PySide6.QtCore import QSettings, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtGui import QAction, QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QKeySequence  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from . import engine  # noqa: E402
from .candidate_page import CandidatePage  # noqa: E402
from .compare import CompareItem, CompareView  # noqa: E402
from .config import AppConfig  # noqa: E402
from .jobs import JobsPanel  # noqa: E402
from .theme import STYLESHEET, app_icon  # noqa: E402
from .workers import AddMediaJob, AnalysisJob, WorkerPool, analysis_pool, io_pool  # noqa: E402

log = logging.getLogger(__name__)

VIDEO_FILTER = "Recordings (*.mp4 *.mov *.mkv *.webm *.avi *.m4v);;All files (*)"
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff);;All files (*)"
MESSAGE_HISTORY = 50
LAST_FOLDER_KEY = "dialogs/last_folder"
ERASE_POLL_MS = 50  # how often an erasure waiting for its candidate's analysis looks again
ERASE_WAIT_S = 120  # give up erasing (and say so) if a cancelled analysis has not stopped by then
JOBS_DOCK_HEIGHT = 150  # px: the analyses panel opens this tall so a run's rows are visible
JOBS_DOCK_IDLE_HEIGHT = 48  # px: and shrinks back to one line when every run is dismissed
MIN_WINDOW = (900, 600)  # px: the window's minimum size (a 1024x700 screen leaves room for a panel)
DEFAULT_WINDOW = (1360, 900)  # px: the first window, shrunk to the screen's free area when smaller
INFO_MESSAGE_MS = 12_000  # an information message clears itself after this; errors and warnings stay
LEFT_PANEL_PX = 230
SORTS = (("Name", "name"), ("Score: lowest first", "score"), ("Score: highest first", "-score"),
         ("Newest first", "-created"), ("Oldest first", "created"))
VERDICT_FILTERS = (("All verdicts", None), ("Likely fake", "likely-fake"), ("Needs review", "review"),
                   ("Authentic", "authentic"), ("Not analysed", "none"), ("Out of date", "stale"))
SHORTCUTS_HELP = (
    ("Ctrl+N", "new candidate"), ("Ctrl+F", "search the candidates"), ("Ctrl+R", "analyse (or re-analyse)"),
    ("Ctrl+,", "settings"), ("Ctrl+P / Ctrl+J", "export PDF / JSON"), ("F2", "rename the candidate"),
    ("Delete", "erase the candidate (asks first)"), ("Ctrl+1 / Ctrl+2", "candidate page / compare"),
    ("Space, ←/→", "play/pause and step in the player (Recordings tab)"), ("Ctrl+Q", "quit"),
)


class MessageBar(QFrame):
    """The message line in the status bar for errors and notices (never a modal box): one line,
    elided, the whole message and the earlier ones in its tooltip. Information clears itself."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.label = QLabel()
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        close = QPushButton("Hide")
        close.setFlat(True)
        close.setToolTip("Hide this message (earlier ones are in the tooltip)")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 1, 2, 1)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.history: list[tuple[str, str]] = []
        self._text = ""
        self.level = ""
        self.sticky = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        self.history.append((level, text))
        del self.history[:-MESSAGE_HISTORY]
        colours = {"error": ("#fdecea", "#b71c1c"), "warning": ("#fff4e5", "#8a5300"), "info": ("#e8f4fd", "#0d47a1")}
        bg, fg = colours.get(level, colours["info"])
        self.setStyleSheet(f"#MessageBar {{ background: {bg}; border: 1px solid {fg}; border-radius: 4px; }} "
                           f"#MessageBar QLabel {{ color: {fg}; }}")
        self._text = text
        self.level = level
        self._elide()
        self.label.setToolTip("\n".join(f"{lvl}: {t}" for lvl, t in reversed(self.history[-10:])))
        self.show()
        if level == "info":
            self._timer.start(INFO_MESSAGE_MS)
        else:
            self._timer.stop()

    def _elide(self) -> None:
        width = max(40, self.label.width())
        self.label.setText(self.label.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    @property
    def text(self) -> str:
        return self._text if self.isVisible() else ""


class CandidateList(QListWidget):
    """The candidates; files dropped on a candidate are added to it."""

    filesDropped = Signal(object, list)  # noqa: N815 - candidate id, paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setWordWrap(True)  # long names wrap instead of being cut
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and self.itemAt(event.position().toPoint()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if item is not None and files:
            event.acceptProposedAction()
            self.filesDropped.emit(item.data(Qt.ItemDataRole.UserRole), files)
        else:
            event.ignore()


class MainWindow(QMainWindow):
    analysisFinished = Signal(str, str)  # noqa: N815 - job id, status (for tests and scripts)
    mediaAdded = Signal(object, int)  # noqa: N815 - candidate id, files added
    candidateErased = Signal(object, bool)  # noqa: N815 - candidate id, erased (False: it failed)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__()
        self.config = config or AppConfig()
        self.setWindowTitle("Telltale — fake candidate checks")
        self.setWindowIcon(app_icon())
        self.library: Any = None
        self.current_id: Any = None
        self.jobs: dict[str, AnalysisJob] = {}
        self.last_status: dict[str, str] = {}
        self.pool: WorkerPool = analysis_pool()
        self.io_pool: WorkerPool = io_pool()
        self.add_jobs: dict[str, AddMediaJob] = {}
        self.futures: dict[str, Future] = {}  # job id -> its pool future (analyses and additions)
        self.erasing: dict[Any, float] = {}  # candidate id -> when its erasure started waiting

        # left: candidates ----------------------------------------------------------
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search candidates… (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self.refresh_candidates())
        self.sort_box = QComboBox()
        for label, key in SORTS:
            self.sort_box.addItem(label, key)
        self.sort_box.setToolTip("Order of the candidates")
        self.sort_box.currentIndexChanged.connect(lambda _i: self.refresh_candidates())
        self.verdict_box = QComboBox()
        for label, key in VERDICT_FILTERS:
            self.verdict_box.addItem(label, key)
        self.verdict_box.setToolTip("Show only the candidates with this verdict")
        self.verdict_box.currentIndexChanged.connect(lambda _i: self.refresh_candidates())
        self.candidate_list = CandidateList()
        self.candidate_list.currentItemChanged.connect(self._on_current_item)
        self.candidate_list.filesDropped.connect(lambda cid, files: self.add_files(files, cid))
        self.candidate_list.customContextMenuRequested.connect(self._candidate_menu)
        new_button = QPushButton("&New candidate")
        new_button.setObjectName("Primary")
        new_button.clicked.connect(lambda: self.new_candidate())
        left = QWidget()
        left.setMinimumWidth(170)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        lv.addWidget(self.search)
        filters = QHBoxLayout()
        filters.addWidget(self.sort_box, 1)
        filters.addWidget(self.verdict_box, 1)
        lv.addLayout(filters)
        lv.addWidget(self.candidate_list, 1)
        lv.addWidget(new_button)
        self.stale_ids: set[Any] = set()

        # centre: candidate page and compare ----------------------------------------
        self.page = CandidatePage()
        self.page.filesDropped.connect(lambda files: self.add_files(files))
        self.page.addVideosRequested.connect(lambda: self.add_files_dialog("video"))
        self.page.addPhotosRequested.connect(lambda: self.add_files_dialog("id"))
        self.page.analyseRequested.connect(lambda: self.analyse())
        self.page.removeMediaRequested.connect(self.remove_media)
        self.page.exportPdfRequested.connect(lambda: self.export_pdf())
        self.page.exportJsonRequested.connect(lambda: self.export_json())
        self.page.eraseRequested.connect(lambda: self.erase_candidate())
        self.page.errorOccurred.connect(lambda m: self.show_message(m, "error"))
        self.compare_view = CompareView()
        self.compare_view.compareRequested.connect(self.compare)
        self.compare_view.exportPdfRequested.connect(lambda: self.export_comparison_pdf())
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(self.page, "Candidate")
        self.views.addTab(self.compare_view, "Compare")

        self.messages = MessageBar()
        self.busy = QProgressBar()  # a busy bar while files are being checked and added
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(140)
        self.busy.setToolTip("Adding files: each is checked before it joins the candidate")
        self.busy.hide()
        self.statusBar().addPermanentWidget(self.messages, 1)
        self.statusBar().addPermanentWidget(self.busy)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(6, 6, 6, 0)
        cv.addWidget(self.views, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(centre)
        split.setStretchFactor(1, 1)
        split.setCollapsible(1, False)
        split.setSizes([LEFT_PANEL_PX, 1100])
        self.setCentralWidget(split)

        # bottom: analyses ---------------------------------------------------------
        self.jobs_panel = JobsPanel()
        self.jobs_panel.jobDismissed.connect(self._on_job_dismissed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.jobs_panel)
        self.jobs_scroll = scroll
        self.jobs_dock = QDockWidget("Analyses", self)
        self.jobs_dock.setObjectName("AnalysesDock")
        self.jobs_dock.setWidget(scroll)
        self.jobs_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                   | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.jobs_dock.hide()  # shown when an analysis starts

        self._build_actions()
        from .batch import install as install_batch  # "Analyse folder…" (issue 15): desktop/batch.py
        install_batch(self)
        self.setMinimumSize(*MIN_WINDOW)
        self.resize(*fit_to_screen(DEFAULT_WINDOW))
        geometry = self.config.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.resize(*fit_to_screen((self.width(), self.height())))
        self.open_library(self.config.library_path)

    # ------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        def action(text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            a.triggered.connect(lambda _checked=False: slot())
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            return a

        self.act_new = action("&New candidate", self.new_candidate, "Ctrl+N", "Create a candidate")
        self.act_videos = action("Add &recordings…", lambda: self.add_files_dialog("video"), None, "Add interview recordings")
        self.act_photos = action("Add ID &photos…", lambda: self.add_files_dialog("id"), None, "Add ID photos")
        self.act_analyse = action("&Analyse", self.analyse, "Ctrl+R", "Analyse (or re-analyse) the selected candidate")
        self.act_compare = action("&Compare", self.compare_selected, None, "Compare candidates side by side")
        self.act_pdf = action("Export P&DF…", self.export_pdf, "Ctrl+P", "Save the report as PDF")
        self.act_json = action("Export &JSON…", self.export_json, "Ctrl+J", "Save the report as JSON")
        self.act_settings = action("&Settings…", self.open_settings, "Ctrl+,", "Library and thresholds (Ctrl+,)")
        self.act_erase = action("&Erase candidate…", self.erase_candidate, None,
                                "Erase the selected candidate and everything the library holds about them")
        self.act_rename = action("Re&name candidate…", self.rename_candidate, "F2", "Give the selected candidate another name")
        self.act_audit = action("Audit &log…", self.open_audit_log, None, "Who ran which analysis, export or erasure, and when")
        self.act_quit = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_find = action("&Find candidate", self._focus_search, QKeySequence.StandardKey.Find, "Search the candidates (Ctrl+F)")
        # Delete erases the selected candidate (it asks first) when the candidate list has focus
        self.act_delete = QAction("Erase candidate", self.candidate_list)
        self.act_delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.act_delete.triggered.connect(lambda _c=False: self.erase_candidate())
        self.candidate_list.addAction(self.act_delete)
        for key, index in (("Ctrl+1", 0), ("Ctrl+2", 1)):
            a = QAction(self)
            a.setShortcut(QKeySequence(key))
            a.triggered.connect(lambda _c=False, i=index: self.views.setCurrentIndex(i))
            self.addAction(a)
        bar = QToolBar("Main")
        bar.setObjectName("MainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.act_new, self.act_videos, self.act_photos, self.act_analyse, self.act_compare, self.act_pdf, self.act_json, self.act_settings):
            bar.addAction(a)
        self.addToolBar(bar)
        menu = self.menuBar().addMenu("&File")
        for a in (self.act_new, self.act_videos, self.act_photos, None, self.act_find, self.act_rename, None,
                  self.act_pdf, self.act_json, None, self.act_erase, None, self.act_settings, None, self.act_quit):
            menu.addSeparator() if a is None else menu.addAction(a)
        run = self.menuBar().addMenu("&Analysis")
        run.addAction(self.act_analyse)
        run.addAction(self.act_compare)
        run.addAction(action("Cancel all analyses", self.cancel_all))
        view = self.menuBar().addMenu("&View")
        self.act_jobs = self.jobs_dock.toggleViewAction()
        self.act_jobs.setText("&Analyses panel")
        view.addAction(self.act_jobs)
        privacy = self.menuBar().addMenu("&Privacy")
        privacy.addAction(self.act_erase)
        privacy.addAction(self.act_audit)
        helpm = self.menuBar().addMenu("&Help")
        helpm.addAction(action("&Keyboard shortcuts", self.show_shortcuts))
        helpm.addAction(action("&About Telltale", self.show_about))

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def about_text(self) -> str:
        """Version, library location and what the score means (Help > About)."""
        from importlib import metadata

        try:
            version = metadata.version("telltale")
        except metadata.PackageNotFoundError:
            version = "development copy"
        where = getattr(self, "library_path", self.config.library_path)
        return (f"<b>Telltale</b> {version}<br>Catches fake candidates in remote hiring: face swaps, re-voiced video, "
                f"reused or generated ID photos, someone else sitting an interview.<br><br>"
                f"Case library: <code>{_html(str(where))}</code><br>"
                f"Change it in Settings, or start with <code>telltale-desktop --library PATH</code>.<br><br>"
                "Everything runs on this computer; nothing is sent anywhere.")

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About Telltale")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setIconPixmap(app_icon().pixmap(48, 48))
        box.exec()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{_html(k)}</b></td><td>{_html(v)}</td></tr>" for k, v in SHORTCUTS_HELP)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding='3'>{rows}</table>"
                                "<p>Menus and buttons: Alt + the underlined letter.</p>")

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, level: str = "error", sticky: bool = False) -> None:
        """Say something in the message line. Errors and ``sticky`` messages stay when another
        candidate is selected; other notices belong to the candidate they were about."""
        log.log(logging.ERROR if level == "error" else logging.INFO, "%s", text)
        self.messages.show_message(text, level)
        self.messages.sticky = sticky or level == "error"

    # ------------------------------------------------------------------ library
    def open_library(self, path: str | Path) -> bool:
        old = self.library
        try:
            self.library = engine.open_library(path, self.config.overrides(), apply_retention=False)
        except Exception as exc:  # noqa: BLE001 - the window stays up, the user can pick another place
            log.error("library %s:\n%s", path, traceback.format_exc())
            self.library = None
            self.show_message(f"The case library at “{path}” could not be opened: {exc}. "
                              "Choose another location in Settings.", "error")
            self.refresh_candidates()
            return False
        if old is not None and old is not self.library:
            engine.close_quietly(old)
        self.library_path = Path(path)
        self.current_id = None
        self._apply_retention()
        self.refresh_candidates()
        self._show_current()
        return True

    def _apply_retention(self) -> None:
        """Erase the candidates older than the retention (Settings, else the library's policy)."""
        try:
            erased = self.library.apply_retention()
        except Exception as exc:  # noqa: BLE001
            log.error("retention:\n%s", traceback.format_exc())
            self.show_message(f"Expired candidates could not be erased: {exc}", "error")
            return
        if erased:
            days = engine.finite(getattr(self.library, "retention_days", None)) or 0.0
            self.show_message(f"{len(erased)} candidate(s) not touched for more than {days:g} days were erased "
                              "(retention setting).", "warning", sticky=True)  # library-wide: it stays

    def _require_library(self) -> bool:
        if self.library is None:
            self.show_message("No case library is open. Choose its location in Settings.", "error")
            return False
        return True

    def refresh_candidates(self, select: Any = None) -> None:
        select = self.current_id if select is None else select
        rows: list[Any] = []
        if self.library is not None:
            try:
                rows = list(self.library.candidates(self.search.text().strip()))
            except Exception as exc:  # noqa: BLE001
                self.show_message(f"The candidates could not be listed: {exc}")
        busy = {j.candidate_id for j in self.running_jobs()}
        try:
            self.stale_ids = set(self.library.stale_candidates()) if self.library is not None else set()
        except Exception:  # noqa: BLE001 - a library without the marks shows none
            self.stale_ids = set()
        shown = self._sorted_filtered(rows)
        self.candidate_list.blockSignals(True)
        self.candidate_list.clear()
        current_item = None
        for r in shown:
            cid = engine.row_get(r, "id")
            name = str(engine.row_get(r, "name", ""))
            score = engine.finite(engine.row_get(r, "score"))
            verdict = engine.row_get(r, "verdict")
            n = engine.row_get(r, "media_count", 0) or 0
            status = f"{score:.0f} · {engine.verdict_label(verdict)}" if score is not None else "not analysed"
            if cid in self.stale_ids:
                status += " · out of date"
            if cid in busy:
                status = "analysing… · " + status
            item = QListWidgetItem(f"{name}\n{status} · {n} file(s)")
            item.setData(Qt.ItemDataRole.UserRole, cid)
            item.setToolTip(f"{name}: {status}. Drop recordings or ID photos here to add them.")
            if score is not None:
                item.setForeground(QColor(engine.verdict_colour(verdict)))
            self.candidate_list.addItem(item)
            if cid == select:
                current_item = item
        if current_item is not None:  # restore the selection without reloading the page
            self.candidate_list.setCurrentItem(current_item)
        self.candidate_list.blockSignals(False)
        self.compare_view.set_candidates(rows)

    def _sorted_filtered(self, rows: list[Any]) -> list[Any]:
        """The candidates in the chosen order, with only the chosen verdict."""
        want = self.verdict_box.currentData()
        if want == "none":
            rows = [r for r in rows if engine.finite(engine.row_get(r, "score")) is None]
        elif want == "stale":
            rows = [r for r in rows if engine.row_get(r, "id") in self.stale_ids]
        elif want:
            rows = [r for r in rows if engine.row_get(r, "verdict") == want]
        key = self.sort_box.currentData() or "name"
        if key.lstrip("-") == "score":
            missing = 1e9 if key == "score" else -1e9  # not analysed: always last
            return sorted(rows, key=lambda r: engine.finite(engine.row_get(r, "score")) if engine.finite(engine.row_get(r, "score")) is not None else missing,
                          reverse=key.startswith("-"))
        if key.lstrip("-") == "created":
            return sorted(rows, key=lambda r: (str(engine.row_get(r, "created_at", "")), engine.row_get(r, "id") or 0),
                          reverse=key.startswith("-"))
        return list(rows)  # the library lists them by name

    def _candidate_menu(self, pos: Any) -> None:
        item = self.candidate_list.itemAt(pos)
        if item is None:
            return
        cid = item.data(Qt.ItemDataRole.UserRole)
        self.candidate_list.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction("&Analyse", lambda: self.analyse(cid))
        menu.addAction("Add &recordings…", lambda: self.add_files_dialog("video"))
        menu.addAction("Add ID &photos…", lambda: self.add_files_dialog("id"))
        menu.addAction("Re&name…", lambda: self.rename_candidate(cid))
        menu.addAction("&Compare with…", lambda: self._compare_with(cid))
        menu.addSeparator()
        menu.addAction("&Erase…", lambda: self.erase_candidate(cid))
        self.candidate_menu = menu
        menu.popup(self.candidate_list.viewport().mapToGlobal(pos))

    def _compare_with(self, cid: Any) -> None:
        self.compare_view.set_checked([cid])
        self.views.setCurrentWidget(self.compare_view)
        self.show_message("Tick the candidates to compare with, then press Compare checked.", "info")

    def rename_candidate(self, candidate_id: Any = None, name: str | None = None) -> bool:
        """Rename a candidate (default: the selected one); asks for the name unless given."""
        if not self._require_library():
            return False
        cid = self.current_id if candidate_id is None else candidate_id
        if cid is None:
            self.show_message("Select the candidate to rename.", "warning")
            return False
        old = str(engine.row_get(self.library.get_candidate(cid), "name", ""))
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename candidate", "New name:", text=old)
            if not ok:
                return False
        name = (name or "").strip()
        if not name or name == old:
            return False
        if any(j.candidate_id == cid for j in self.running_jobs()):
            self.show_message("This candidate is being analysed; rename them when it has finished.", "warning")
            return False
        try:
            self.library.rename_candidate(cid, name)
        except Exception as exc:  # noqa: BLE001 - e.g. the name is taken
            self.show_message(f"The candidate could not be renamed: {exc}", "error")
            return False
        self.refresh_candidates(select=cid)
        self._show_current()
        return True

    def _on_current_item(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is None:
            return
        self.select_candidate(item.data(Qt.ItemDataRole.UserRole))

    def select_candidate(self, candidate_id: Any) -> None:
        if candidate_id != self.current_id and not self.messages.sticky:
            self.messages.hide()  # a notice about the previous candidate does not linger on the next
        self.current_id = candidate_id
        self._show_current()
        self.views.setCurrentWidget(self.page)

    def _show_current(self) -> None:
        if self.library is None or self.current_id is None:
            self.page.set_candidate(None, [], None)
            return
        try:
            cand = self.library.get_candidate(self.current_id)
            media = list(self.library.media(self.current_id))
            report = self.library.latest_report(self.current_id)
        except Exception as exc:  # noqa: BLE001
            log.error("%s", traceback.format_exc())
            self.show_message(f"This candidate could not be loaded: {exc}")
            self.page.set_candidate(None, [], None)
            return
        try:
            stale = self.library.stale_reasons(self.current_id)
        except Exception:  # noqa: BLE001
            stale = []
        self.page.set_candidate(cand, media, report, stale)
        missing = [Path(str(engine.row_get(m, "path"))).name for m in media if not Path(str(engine.row_get(m, "path"))).exists()]
        if missing:
            self.show_message("These files were moved or deleted and cannot be analysed or played: " + ", ".join(missing), "warning")

    # ------------------------------------------------------------------ candidates and media
    def new_candidate(self, name: str | None = None, duplicate: str = "ask") -> Any:
        """Create a candidate and select them. When the name is taken, ``duplicate`` says what to
        do: "ask" (the user chooses), "open" (the existing one), "new" (a second candidate,
        "Name (2)": two people with one name are never merged) or "cancel"."""
        if not self._require_library():
            return None
        if name is None:
            name, ok = QInputDialog.getText(self, "New candidate", "Candidate's name:")
            if not ok:
                return None
        name = (name or "").strip()
        if not name:
            self.show_message("A candidate needs a name.", "warning")
            return None
        existing = self.library.get_candidate(name)
        if existing is not None:
            choice = self._ask_duplicate(name) if duplicate == "ask" else duplicate
            if choice == "open":
                self.refresh_candidates(select=existing.id)
                self.select_candidate(existing.id)
                return existing.id
            if choice != "new":
                return None
            name = self._free_name(name)
        try:
            cid = self.library.add_candidate(name)
        except Exception as exc:  # noqa: BLE001 - e.g. the name is taken
            self.show_message(f"Candidate “{name}” could not be created: {exc}", "error")
            return None
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.refresh_candidates(select=cid)
        self.select_candidate(cid)
        return cid

    def _ask_duplicate(self, name: str) -> str:
        box = QMessageBox(self)
        box.setWindowTitle("Name already used")
        box.setText(f"A candidate called “{name}” is already in the library.\n\n"
                    "Is this the same person? Open them to add files. If it is someone else with the same name, "
                    f"create a separate candidate (“{self._free_name(name)}”); their results are never mixed.")
        open_button = box.addButton("&Open the existing candidate", QMessageBox.ButtonRole.AcceptRole)
        new_button = box.addButton("Create a &separate candidate", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(open_button)
        box.exec()
        clicked = box.clickedButton()
        return "open" if clicked is open_button else "new" if clicked is new_button else "cancel"

    def _free_name(self, name: str) -> str:
        """``name (2)``, ``name (3)``…: the first that no candidate has."""
        n = 2
        while self.library.get_candidate(f"{name} ({n})") is not None:
            n += 1
        return f"{name} ({n})"

    def add_files_dialog(self, role: str) -> None:
        if self.current_id is None:
            self.show_message("Select or create a candidate first.", "warning")
            return
        title = "Add recordings" if role == "video" else "Add ID photos"
        files, _ = QFileDialog.getOpenFileNames(self, title, self._last_folder(), VIDEO_FILTER if role == "video" else PHOTO_FILTER)
        if files:
            self._remember_folder(files[0])
            self.add_files(files, role=role)

    def _last_folder(self) -> str:
        """The folder of the last file opened or saved (file dialogs start there)."""
        folder = self.config.qs.value(LAST_FOLDER_KEY, "")
        return str(folder) if folder and Path(str(folder)).is_dir() else str(Path.home())

    def _remember_folder(self, path: str) -> None:
        self.config.qs.setValue(LAST_FOLDER_KEY, str(Path(path).parent))

    def add_files(self, paths: Sequence[str], candidate_id: Any = None, role: str | None = None) -> AddMediaJob | None:
        """Add files to a candidate (default: the selected one) in the background.

        Each file is checked first; unusable ones are refused with the reason. ``mediaAdded``
        is emitted when the job is done."""
        if not self._require_library():
            return None
        cid = self.current_id if candidate_id is None else candidate_id
        if cid is None:
            self.show_message("Select or create a candidate first, then add its files.", "warning")
            return None
        if cid in self.erasing:
            self.show_message("This candidate is being erased; no files can be added.", "warning")
            return None
        problems: list[str] = []
        files: list[tuple[str, str]] = []
        known = {str(engine.row_get(m, "path")) for m in self._media(cid)}
        known |= {p for job in self.add_jobs.values() if job.candidate_id == cid for p, _ in job.files}
        for raw in paths:
            path = str(Path(raw).absolute())
            if Path(path).is_dir():
                problems.append(f"“{Path(path).name}” is a folder; add the files inside it.")
            elif path in known:
                problems.append(f"“{Path(path).name}” is already in this candidate's files.")
            else:
                files.append((path, role or engine.guess_role(path)))
                known.add(path)
        if problems:
            self.show_message(" ".join(problems), "warning")
        job = AddMediaJob(self.library, cid, files)
        job.signals.finished.connect(self._on_media_added)
        self.add_jobs[job.job_id] = job
        if files:
            self.show_message(f"Checking and adding {len(files)} file(s)…", "info")
            self.busy.show()
        self._track(job.job_id, self.io_pool.start(job))
        return job

    def _track(self, job_id: str, future: Future) -> None:
        """Remember a job's future (to wait for it or drop it before it starts); forget finished ones."""
        for done in [j for j, f in self.futures.items() if f.done()]:
            del self.futures[done]
        self.futures[job_id] = future

    def _on_media_added(self, job_id: str, cid: Any, added: int, problems: Any) -> None:
        job = self.add_jobs.pop(job_id, None)
        self.busy.setVisible(bool(self.add_jobs))
        if added and job is not None and self.library is not None:
            for path, _role in job.files[:added]:
                self._mark_stale(cid, "added", None, Path(path).name)
        if problems:
            self.show_message(" ".join(problems), "error")
        elif added:
            self.show_message(f"Added {added} file(s). Press Analyse to check them.", "info")
        self.refresh_candidates()
        if cid == self.current_id:
            self._show_current()
        self.mediaAdded.emit(cid, added)

    def _mark_stale(self, cid: Any, kind: str, other: Any = None, detail: str = "") -> None:
        """Mark a candidate's saved results out of date (shown on their page, with Re-analyse)."""
        if cid is None or self.library is None:
            return
        try:
            self.library.mark_stale(cid, kind, other, detail)
        except Exception:  # noqa: BLE001 - the mark is a courtesy; the results themselves are intact
            log.warning("could not mark candidate %s out of date:\n%s", cid, traceback.format_exc())

    def _mark_reuse_partners(self, cid: Any, report: dict[str, Any]) -> list[Any]:
        """Reuse is symmetric: the candidates this report found sharing a face, photo or voice were
        analysed before it and could not see it. Their results are marked out of date, unless
        their own report already names this candidate (re-analysing one of two candidates that
        found each other marks nobody)."""
        marked = []
        name = str(engine.row_get(self.library.get_candidate(cid), "name", ""))
        for m in engine.partner_matches(report):
            other = m.get("candidate")
            if not other:
                continue
            row = self.library.get_candidate(str(other))
            if row is None or row.id == cid or row.id in marked:
                continue
            theirs = {str(x.get("candidate")) for x in engine.partner_matches(self.library.latest_report(row.id) or {})}
            if name in theirs:
                continue  # they already know
            what = {"same-image": "photo", "same-face": "face", "same-voice": "voice"}.get(str(m.get("kind")), "face or photo")
            self._mark_stale(row.id, "reuse", cid, what)
            marked.append(row.id)
        return marked

    def _media(self, cid: Any) -> list[Any]:
        try:
            return list(self.library.media(cid))
        except Exception:  # noqa: BLE001
            return []

    def remove_media(self, media_id: Any) -> None:
        if media_id is None or not self._require_library():
            return
        try:
            row = self.library.get_media(media_id)
            self.library.remove_media(media_id)
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The file could not be removed: {exc}")
        else:
            self._mark_stale(self.current_id, "removed", None, Path(str(engine.row_get(row, "path", ""))).name)
        self.refresh_candidates()
        self._show_current()

    # ------------------------------------------------------------------ erasure
    def erase_candidate(self, candidate_id: Any = None) -> bool:
        """Erase a candidate (default: the selected one) after the user confirms.

        Their analyses are cancelled first, and the erasure waits until those have stopped: a
        running analysis stores the candidate's faces, voices and report at its end
        (``record_analysis``, by name) and would bring the candidate back. ``candidateErased`` is emitted when it is done.
        Returns False when the user said no (or there is nothing to erase)."""
        if not self._require_library():
            return False
        cid = self.current_id if candidate_id is None else candidate_id
        if cid is None:
            self.show_message("Select the candidate to erase first.", "warning")
            return False
        if cid in self.erasing:
            return True
        try:
            cand = self.library.get_candidate(cid)
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The candidate could not be read from the library: {exc}")
            return False
        if cand is None:
            self.show_message("This candidate is no longer in the library.", "warning")
            self.refresh_candidates()
            return False
        name = str(engine.row_get(cand, "name", ""))
        answer = QMessageBox.question(
            self,
            "Erase candidate",
            f"Erase “{name}” from the case library?\n\n"
            "Every photo hash, face embedding, report and audit path of theirs is removed, and their "
            "photos and face will no longer be found by a search. The files on disk are not touched.\n\n"
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.erasing[cid] = time.monotonic()
        for job in self.running_jobs():
            if job.candidate_id != cid:
                continue
            job.discard_results = True  # even if it finishes first, nothing of it is saved
            job.cancel()
            future = self.futures.get(job.job_id)
            if future is not None and future.cancel():  # still queued: it will never run
                self._on_job_finished(job.job_id, "cancelled", None, [])
        self.refresh_candidates()
        self._erase_when_idle(cid)
        return True

    def _erase_when_idle(self, cid: Any) -> None:
        """Erase once no analysis or file addition of this candidate is running (polls; the
        window stays responsive while a cancelled analysis winds down)."""
        busy = [self.futures[j.job_id] for j in list(self.jobs.values()) + list(self.add_jobs.values())
                if j.candidate_id == cid and j.job_id in self.futures and not self.futures[j.job_id].done()]
        if busy:
            if time.monotonic() - self.erasing[cid] > ERASE_WAIT_S:
                self.erasing.pop(cid, None)
                self.show_message("The candidate was not erased: their analysis did not stop in time. Try again.", "error")
                self.refresh_candidates()
                self.candidateErased.emit(cid, False)
                return
            if not self.messages.text.startswith("Stopping"):
                self.show_message("Stopping this candidate's analysis before erasing…", "info")
            QTimer.singleShot(ERASE_POLL_MS, lambda: self._erase_when_idle(cid))
            return
        ok = True
        try:
            removed = self.library.erase_candidate(cid, reason="request")
        except Exception as exc:  # noqa: BLE001
            log.error("erase:\n%s", traceback.format_exc())
            self.show_message(f"The candidate could not be erased: {exc}", "error")
            ok = False
        else:
            # no name here: this sentence also goes to the log
            self.show_message(f"Candidate erased: {removed} file record(s), their face embeddings, photo hashes and "
                              "reports are gone from the library.", "info")
        finally:
            self.erasing.pop(cid, None)
        if ok and self.current_id == cid:
            self.current_id = None
            self.candidate_list.clearSelection()
        if ok and any(engine.row_get(it.candidate, "id") == cid for it in self.compare_view.items):
            self.compare_view.show_items([it for it in self.compare_view.items if engine.row_get(it.candidate, "id") != cid])
        self.refresh_candidates()
        self._show_current()
        self.candidateErased.emit(cid, ok)

    # ------------------------------------------------------------------ audit
    def open_audit_log(self) -> Any:
        """Show the library's audit log (non-modal); returns the dialog."""
        if not self._require_library():
            return None
        from .audit_dialog import AuditDialog

        dialog = AuditDialog(self.library, self)
        dialog.setModal(False)
        dialog.show()
        self.audit_dialog = dialog
        return dialog

    # ------------------------------------------------------------------ analysis
    def analyse(self, candidate_id: Any = None) -> AnalysisJob | None:
        if not self._require_library():
            return None
        cid = self.current_id if candidate_id is None else candidate_id
        if cid is None:
            self.show_message("Select a candidate to analyse.", "warning")
            return None
        if cid in self.erasing:
            self.show_message("This candidate is being erased; it cannot be analysed.", "warning")
            return None
        if any(j.candidate_id == cid for j in self.add_jobs.values()):
            self.show_message("Files are still being added to this candidate; analyse again in a moment.", "info")
            return None
        for job in self.jobs.values():
            if job.candidate_id == cid and self.last_status.get(job.job_id) in ("queued", "running"):
                self.show_message("This candidate is already being analysed.", "info")
                return None
        try:
            cand = self.library.get_candidate(cid)
            media = list(self.library.media(cid))
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The candidate could not be read from the library: {exc}")
            return None
        files = [(str(engine.row_get(m, "path")), str(engine.row_get(m, "role", "video"))) for m in media]
        if not files:
            self.show_message("This candidate has no files yet: drop recordings and ID photos on the page first.", "warning")
            return None
        job = AnalysisJob(cid, str(engine.row_get(cand, "name", "")), files, str(self.library_path), self.config.overrides())
        job.signals.progress.connect(self._on_progress)
        job.signals.file_finished.connect(self._on_file_finished)
        job.signals.finished.connect(self._on_job_finished)
        self.jobs[job.job_id] = job
        self.last_status[job.job_id] = "queued"
        self.jobs_panel.add_job(job)
        self.jobs_dock.show()
        self.jobs_scroll.setMinimumHeight(min(JOBS_DOCK_HEIGHT, max(60, self.height() // 5)))
        self.resizeDocks([self.jobs_dock], [JOBS_DOCK_HEIGHT], Qt.Orientation.Vertical)
        self._track(job.job_id, self.pool.start(job))
        self.refresh_candidates()
        return job

    def _on_progress(self, job_id: str, key: str, fraction: float, message: str) -> None:
        self.last_status[job_id] = "running"
        box = self.jobs_panel.boxes.get(job_id)
        if box is not None:
            box.on_progress(key, fraction, message)

    def _on_file_finished(self, job_id: str, key: str, status: str, message: str) -> None:
        box = self.jobs_panel.boxes.get(job_id)
        if box is not None:
            box.on_file_finished(key, status, message)

    def _on_job_finished(self, job_id: str, status: str, report: Any, messages: Any) -> None:
        self.last_status[job_id] = status
        job = self.jobs.get(job_id)
        box = self.jobs_panel.boxes.get(job_id)
        if box is not None:
            box.on_finished(status)
        name = job.candidate_name if job else "the candidate"
        if job is not None and job.discard_results:
            # stopped for an erasure: nothing is saved, and the erasure says what happened
            self.refresh_candidates()
            self.analysisFinished.emit(job_id, status)
            return
        if status == "done" and report is not None and job is not None:
            # the worker stored the report with the candidate's faces and voices (one transaction)
            if job.store_error is not None:
                self.show_message(f"The report for {name} could not be saved in the library: {job.store_error}")
            else:
                try:
                    if self.library is not None:
                        self.library.clear_stale(job.candidate_id)
                        self._mark_reuse_partners(job.candidate_id, report)
                except Exception:  # noqa: BLE001 - the marks are advice; the report is stored
                    log.error("%s", traceback.format_exc())
                text = f"Analysis of {name} finished: score {report.get('score', 0):.0f}, {engine.verdict_label(report.get('verdict'))}."
                extra = list(messages or []) + [e for e in report.get("errors", []) if e]
                self.show_message(" ".join([text, *map(str, extra)]), "warning" if extra else "info")
            self.refresh_candidates()
            if job.candidate_id == self.current_id:
                self._show_current()
        elif status == "cancelled":
            self.show_message(f"Analysis of {name} was cancelled; the previous results (if any) are kept. "
                              + " ".join(map(str, messages or [])), "warning")
        else:
            self.show_message(f"Analysis of {name} could not finish. " + " ".join(map(str, messages or [])), "error")
        if status != "done":
            self.refresh_candidates()
        self.analysisFinished.emit(job_id, status)

    def _on_job_dismissed(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)
        if not self.jobs_panel.boxes:
            self.jobs_scroll.setMinimumHeight(0)
            self.resizeDocks([self.jobs_dock], [JOBS_DOCK_IDLE_HEIGHT], Qt.Orientation.Vertical)
            self.jobs_dock.hide()  # nothing to show: the page gets the height back (View > Analyses panel)

    def cancel_all(self) -> None:
        for job in self.jobs.values():
            job.cancel()

    def running_jobs(self) -> list[AnalysisJob]:
        return [j for j in self.jobs.values() if self.last_status.get(j.job_id) in ("queued", "running")]

    # ------------------------------------------------------------------ compare
    def compare_selected(self) -> None:
        ids = self.compare_view.checked_ids()
        if len(ids) < 2 and self.current_id is not None:
            self.views.setCurrentWidget(self.compare_view)
            self.show_message("Tick two or more candidates in the Compare view, then press Compare checked.", "info")
            return
        self.compare(ids)

    def compare(self, ids: list[Any]) -> None:
        if not self._require_library():
            return
        items = []
        for cid in ids:
            try:
                items.append(CompareItem(self.library.get_candidate(cid), self.library.latest_report(cid), list(self.library.media(cid))))
            except Exception as exc:  # noqa: BLE001
                self.show_message(f"A candidate could not be loaded for comparison: {exc}")
        self.compare_view.set_checked(ids)
        self.compare_view.show_items(items)
        self.views.setCurrentWidget(self.compare_view)
        if len(items) < 2:
            self.show_message("Tick at least two candidates to compare them.", "info")

    # ------------------------------------------------------------------ export
    def _current_report(self) -> tuple[Any, dict | None]:
        if self.library is None or self.current_id is None:
            return None, None
        try:
            return self.library.get_candidate(self.current_id), self.library.latest_report(self.current_id)
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The report could not be read: {exc}")
            return None, None

    def export_pdf(self, path: str | None = None) -> Path | None:
        from .export import export_pdf

        cand, report = self._current_report()
        if not report:
            self.show_message("There is no report to export yet: analyse the candidate first.", "warning")
            return None
        if path is None:
            default = Path(self._last_folder()) / f"telltale-{_safe(engine.row_get(cand, 'name', 'report'))}.pdf"
            path, _ = QFileDialog.getSaveFileName(self, "Export PDF report", str(default), "PDF (*.pdf)")
            if not path:
                return None
            self._remember_folder(path)
        try:
            out = export_pdf(report, path, self._media(self.current_id))
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The PDF could not be written to “{path}”: {exc}")
            return None
        self._exported(out, "report-pdf")
        return out

    def _exported(self, out: Path, kind: str) -> None:
        """Audit an export that succeeded and say where it went."""
        try:
            self.library.log_export(self.current_id, out, kind)
        except Exception as exc:  # noqa: BLE001 - the file is written; say the log missed it
            log.error("audit of export:\n%s", traceback.format_exc())
            self.show_message(f"Report saved as {out} (readable by you only), but the audit log could not record it: {exc}",
                              "warning")
            return
        self.show_message(f"Report saved as {out} (readable by you only).", "info")

    def export_json(self, path: str | None = None) -> Path | None:
        from .export import export_json

        cand, report = self._current_report()
        if not report:
            self.show_message("There is no report to export yet: analyse the candidate first.", "warning")
            return None
        if path is None:
            default = Path(self._last_folder()) / f"telltale-{_safe(engine.row_get(cand, 'name', 'report'))}.json"
            path, _ = QFileDialog.getSaveFileName(self, "Export JSON report", str(default), "JSON (*.json)")
            if not path:
                return None
            self._remember_folder(path)
        try:
            out = export_json(report, path)
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The JSON report could not be written to “{path}”: {exc}")
            return None
        self._exported(out, "report-json")
        return out

    def export_comparison_pdf(self, path: str | None = None) -> Path | None:
        """The comparison on the Compare tab as a PDF (owner-only, audited for each candidate)."""
        items = self.compare_view.items
        if len(items) < 2:
            self.show_message("Compare two or more candidates first.", "warning")
            return None
        if path is None:
            default = Path(self._last_folder()) / f"telltale-comparison-{len(items)}.pdf"
            path, _ = QFileDialog.getSaveFileName(self, "Export comparison PDF", str(default), "PDF (*.pdf)")
            if not path:
                return None
            self._remember_folder(path)
        try:
            out = self.compare_view.export_pdf(path)
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"The comparison PDF could not be written to “{path}”: {exc}")
            return None
        try:
            for it in items:
                self.library.log_export(engine.row_get(it.candidate, "id"), out, "comparison-pdf")
        except Exception as exc:  # noqa: BLE001
            self.show_message(f"Comparison saved as {out}, but the audit log could not record it: {exc}", "warning")
            return out
        self.show_message(f"Comparison saved as {out} (readable by you only).", "info")
        return out

    # ------------------------------------------------------------------ settings
    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.config, self, library_retention=engine.finite(getattr(self.library, "retention_days", None)))
        if dialog.exec():
            retention = engine.retention_override(self.config.overrides())
            if dialog.apply():
                self.open_library(self.config.library_path)
            elif retention != engine.retention_override(self.config.overrides()):
                self.reopen_library()  # the new retention applies now: expired candidates go
                if any("retention setting" in text for _lvl, text in self.messages.history[-1:]):
                    return  # the message saying who was erased stays up
            self.show_message("Settings saved; thresholds apply to the next analysis.", "info")

    def reopen_library(self) -> bool:
        """Open the same library again (new session settings), keeping the selected candidate."""
        keep = self.current_id
        self.io_pool.waitForDone(30_000)  # file additions hold the old connection
        if not self.open_library(self.library_path):
            return False
        if keep is not None and self.library.get_candidate(keep) is not None:
            self.refresh_candidates(select=keep)
            self.select_candidate(keep)
        return True

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.cancel_all()
        self.io_pool.waitForDone(30_000)
        self.pool.waitForDone(30_000)
        self.compare_view.wait_idle(30_000)
        for pool in (self.pool, self.io_pool, self.compare_view.pool):
            pool.shutdown()
        self.page.player.open(None)
        self.config.save_geometry(self.saveGeometry())
        if self.library is not None:
            engine.close_quietly(self.library)
            self.library = None
        super().closeEvent(event)


def fit_to_screen(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` shrunk to the primary screen's free area (a laptop's 1366x768 takes the whole of it)."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return size
    free = screen.availableGeometry()
    return (max(MIN_WINDOW[0], min(size[0], free.width())), max(MIN_WINDOW[1], min(size[1], free.height())))


def _html(text: str) -> str:
    import html

    return html.escape(text)


def _safe(name: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name)) or "report"


def install_excepthook(window: MainWindow) -> None:
    """An unexpected error in a slot becomes a message in the window instead of a crash."""

    def hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        try:
            window.show_message(f"Something went wrong: {exc}. The window stays open; you can carry on.", "error")
        except Exception:  # noqa: BLE001
            pass

    sys.excepthook = hook


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    prepare_environment()
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setOrganizationName("Telltale")
    app.setApplicationName("Telltale Desktop")
    app.setStyle("Fusion")
    app.setStyleSheet(STYLESHEET)
    return app  # type: ignore[return-value]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="telltale-desktop",
        description="Telltale desktop app: analyse interview recordings and ID photos for fake candidates.",
        epilog="The library location given here is remembered (Settings shows it).",
    )
    parser.add_argument("--library", metavar="PATH", help="case library file to open (default: the one in Settings, "
                        "else the user data folder, the same as the command line's)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args, _qt = parser.parse_known_args(list(argv[1:]) if argv is not None else sys.argv[1:])  # Qt's own options pass
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        from importlib import metadata

        try:
            print(f"telltale-desktop {metadata.version('telltale')}")
        except metadata.PackageNotFoundError:
            print("telltale-desktop (development copy)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(argv)
    config = AppConfig(QSettings())
    if args.library:
        config.library_path = Path(args.library).expanduser().absolute()
    window = MainWindow(config)
    install_excepthook(window)
    window.show()
    QTimer.singleShot(0, window.raise_)
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
