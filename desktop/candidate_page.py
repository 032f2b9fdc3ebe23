"""The candidate page: score and verdict, the checks, the media, and the evidence.

Tabs (each scrolls on its own, so the page fits a 1024x700 window):
  * Summary: each check (risk, confidence, points off, reason), the files with their own risk.
  * Recordings: player + timeline per recording (a click on the timeline seeks the player),
    the top suspicious frames with their heat maps (a click seeks too).
  * Identity: the ID portrait beside faces from the interview; reuse matches with the other
    candidate's photo beside this one.
  * Evidence pictures: every picture any check attached (evidence keys ending in ``_png``);
    a double click shows one large, heat maps with their colour scale.
The header keeps a fixed height (reasons scroll inside it), so nothing below it moves when
results change.
Everything is drawn from the saved JSON report, defensively: a missing key hides that part.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import engine
from .images import pixmap_from_b64, pixmap_from_file, video_thumbnail
from .player import VideoPlayer
from .timeline import TimelineWidget
from .voice_view import VoiceBox, VoicePanel
from .widgets import FlowLayout, PictureCard, ScoreBadge, clear_layout, elided, hint_label, section_title, show_enlarged

log = logging.getLogger(__name__)

THUMB = 128
FRAME_THUMB = 96  # the suspicious frames beside the player: two per card, the column stays narrow
TOP_FRAMES_SHOWN = 8
CAPTION_CHARS = 22
FRAMES_COLUMN_MIN_PX = 2 * FRAME_THUMB + 44  # one card (two pictures, margins) and a scroll bar
HEADER_REASONS_PX = 92  # the reasons box in the header: fixed, it scrolls inside (no page jumps)
SEEK_STEP_S, SEEK_BIG_STEP_S = 1.0, 5.0  # Left/Right and Shift+Left/Right in the player
TIMELINE_LEGEND = (
    "Face-swap risk (red): the face-swap check's risk for each second; purple ticks mark the frames shown beside the player.\n"
    "Lip-sync offset (blue): how far the voice runs ahead (+) or behind (−) the lips, per window.\n"
    "Orange: segments where the lips and the voice do not match (speech with a still mouth, or the reverse).\n"
    "Mouth (green) and voice (brown): the mouth opening and the speech energy the lip-sync check compared.\n"
    "Face vs ID (dark grey): distance of the interview face to the ID photo; the dashed line is the same-person limit.\n"
    "Over the time axis: the candidate's voice excerpt (indigo) and where a second voice speaks (pink)."
)
LEGEND_HTML = (  # one line (a wrapping label would make the tab's height depend on its width); the tooltip says more
    "<span style='color:#c62828'>■</span> face-swap risk · <span style='color:#1565c0'>■</span> lip-sync offset · "
    "<span style='color:#ff9800'>■</span> lips ≠ voice · <span style='color:#6a1b9a'>▮</span> frames at right · "
    "<span style='color:#37474f'>■</span> face vs ID · <span style='color:#3949ab'>▬</span> voice excerpt · "
    "<span style='color:#d81b60'>▬</span> 2nd voice"
)
FRAME_SCORE_TIP = ("The face-swap model's score for this one frame (0-1). The check's risk weighs every frame, so a "
                   "genuine recording can have a few frames that score high. Double-click to enlarge with the colour scale.")
CLIP_SCORE_TIP = ("The CLIP probe's reading of the face at this moment (0-1: the check's risk if every moment read like this "
                  "one). The map shows where on the face its reading comes from: bright where the face reads more swapped "
                  "than an average face. Double-click to enlarge with the colour scale.")
LEVEL_COLOURS = {"high": "#c62828", "some": "#b26a00", "low": "#2e7d32", "not judged": "#78909c"}


def short(name: str, n: int = CAPTION_CHARS) -> str:
    """A file name shortened in the middle so a caption fits under a thumbnail."""
    return name if len(name) <= n else name[: n // 2 - 1] + "…" + name[-(n - n // 2):]


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _local_files(urls: Any) -> list[str]:
    return [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile()]


class CandidatePage(QWidget):
    """Shows one candidate. Emits requests; the main window does the work."""

    filesDropped = Signal(list)  # noqa: N815 - local paths
    addVideosRequested = Signal()  # noqa: N815
    addPhotosRequested = Signal()  # noqa: N815
    analyseRequested = Signal()  # noqa: N815
    removeMediaRequested = Signal(object)  # noqa: N815 - media id
    exportPdfRequested = Signal()  # noqa: N815
    exportJsonRequested = Signal()  # noqa: N815
    eraseRequested = Signal()  # noqa: N815
    errorOccurred = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.candidate: Any = None
        self.report: dict[str, Any] | None = None
        self.media_rows: list[Any] = []
        self.recordings: list[engine.RecordingEvidence] = []
        self.timeline: TimelineWidget | None = None
        self.voice: engine.VoiceEvidence | None = None

        # header ----------------------------------------------------------------------
        self.name_label = QLabel("No candidate selected")
        self.name_label.setObjectName("CandidateName")
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.meta_label = QLabel("Create a candidate, then drop recordings and ID photos here.")
        self.meta_label.setObjectName("Hint")
        self.meta_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.badge = ScoreBadge(big=44)
        self.stale: list[str] = []
        self.reasons_label = QLabel()
        self.reasons_label.setWordWrap(True)
        self.reasons_label.setTextFormat(Qt.TextFormat.RichText)
        self.reasons_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.reasons_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        reasons_area = _scroll(self.reasons_label)
        reasons_area.setFixedHeight(HEADER_REASONS_PX)
        self.reasons_area = reasons_area
        self.analyse_button = QPushButton("&Analyse")
        self.analyse_button.setObjectName("Primary")
        self.analyse_button.setToolTip("Analyse every recording and photo of this candidate")
        self.analyse_button.clicked.connect(self.analyseRequested)
        self.pdf_button = QPushButton("Export &PDF…")
        self.pdf_button.clicked.connect(self.exportPdfRequested)
        self.json_button = QPushButton("Export &JSON…")
        self.json_button.clicked.connect(self.exportJsonRequested)
        self.erase_button = QPushButton("&Erase candidate…")
        self.erase_button.setObjectName("Danger")
        self.erase_button.setToolTip("Remove this candidate and everything the library holds about them "
                                     "(photo hashes, face embeddings, reports); asks first")
        self.erase_button.clicked.connect(self.eraseRequested)
        actions = QVBoxLayout()
        actions.setSpacing(3)
        for b in (self.analyse_button, self.pdf_button, self.json_button, self.erase_button):
            actions.addWidget(b)
        actions.addStretch(1)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.name_label)
        titles.addWidget(self.meta_label)
        titles.addWidget(reasons_area)
        header = QHBoxLayout()
        header.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(titles, 1)
        header.addLayout(actions)

        # tabs ------------------------------------------------------------------------
        self.tabs = QTabWidget()
        self.tabs.addTab(_scroll(self._build_summary()), "&Summary")
        self.tabs.addTab(self._build_recordings(), "&Recordings")
        self.tabs.addTab(self._build_identity(), "&Identity && reuse")
        self.tabs.addTab(self._build_evidence(), "E&vidence pictures")
        self.voice_panel = VoicePanel()
        self.voice_panel.seekRequested.connect(self.show_moment)
        self.voice_tab = _scroll(self.voice_panel)
        self.tabs.addTab(self.voice_tab, "V&oice")
        self.dialogs: list[Any] = []  # enlarged pictures (kept alive while open)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        self.set_candidate(None, [], None)

    # ------------------------------------------------------------------ building blocks
    def _build_summary(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.addWidget(section_title("Checks"))
        self.checks_table = QTableWidget(0, 5)
        self.checks_table.setHorizontalHeaderLabels(["Check", "Risk", "Confidence", "Points off", "Reason"])
        self.checks_table.verticalHeader().setVisible(False)
        self.checks_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.checks_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.checks_table.setWordWrap(True)
        hh = self.checks_table.horizontalHeader()
        for col in range(4):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.checks_table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.checks_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.checks_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.checks_table.cellDoubleClicked.connect(lambda row, _col: self.open_check(row))
        v.addWidget(self.checks_table)
        self.checks_hint = hint_label("")
        v.addWidget(self.checks_hint)

        row = QHBoxLayout()
        row.addWidget(section_title("Recordings and photos"))
        row.addStretch(1)
        self.add_videos_button = QPushButton("Add re&cordings…")
        self.add_videos_button.clicked.connect(self.addVideosRequested)
        self.add_photos_button = QPushButton("Add ID p&hotos…")
        self.add_photos_button.clicked.connect(self.addPhotosRequested)
        self.remove_button = QPushButton("Re&move")
        self.remove_button.setToolTip("Remove the selected file from this candidate (the file itself is kept)")
        self.remove_button.clicked.connect(self._remove_selected)
        for b in (self.add_videos_button, self.add_photos_button, self.remove_button):
            row.addWidget(b)
        v.addLayout(row)
        self.media_table = QTableWidget(0, 4)
        self.media_table.setHorizontalHeaderLabels(["File", "Kind", "Risk", "Result"])
        self.media_table.verticalHeader().setVisible(False)
        self.media_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.media_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.media_table.setWordWrap(True)
        self.media_table.setMinimumHeight(120)
        self.media_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.media_table.customContextMenuRequested.connect(self._media_menu)
        self.media_table.cellDoubleClicked.connect(lambda row, _col: self._play_row(row))
        mh = self.media_table.horizontalHeader()
        mh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        mh.resizeSection(0, 220)
        mh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        mh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        mh.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.media_table, 1)
        v.addWidget(hint_label("Drop recordings (mp4, mov, mkv, webm, avi) and ID photos (jpg, png, webp) anywhere on this page."))
        return w

    def _build_recordings(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        top = QHBoxLayout()
        top.addWidget(QLabel("Recording:"))
        self.recording_combo = QComboBox()
        self.recording_combo.currentIndexChanged.connect(self._show_recording)
        top.addWidget(self.recording_combo, 1)
        v.addLayout(top)
        self.player = VideoPlayer()
        self.player.errorOccurred.connect(self.errorOccurred)
        self.player.positionChanged.connect(self._on_position)
        v.addWidget(self.player, 1)
        self.timeline_holder = QVBoxLayout()
        v.addLayout(self.timeline_holder)
        legend = QLabel(LEGEND_HTML)
        legend.setObjectName("Hint")
        legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        legend.setToolTip("Click the timeline to see that moment; Space plays, ←/→ step (Shift: 5 s).\n" + TIMELINE_LEGEND)
        v.addWidget(legend)
        # the suspicious frames in a column beside the player (a splitter: the user can widen it)
        side = QWidget()
        side.setMinimumWidth(FRAMES_COLUMN_MIN_PX)
        sv = QVBoxLayout(side)
        sv.setContentsMargins(0, 0, 0, 0)
        # this recording's voice above the frames: beside the player, not under it (the player and
        # the timeline keep their height on a laptop screen)
        self.voice_box = VoiceBox()
        self.voice_box.seekRequested.connect(self.seek)
        self.voice_box.detailsRequested.connect(lambda: self.tabs.setCurrentWidget(self.voice_tab))
        sv.addWidget(self.voice_box)
        title = section_title("Most suspicious frames")
        title.setToolTip("The face-swap check's strongest frames: the face, and where the model saw blending (heat map). "
                         "Click one to see it in the player; double-click to enlarge it.")
        sv.addWidget(title)
        frames = QWidget()
        self.frames_flow = FlowLayout(frames)
        sv.addWidget(_scroll(frames), 1)
        split = QSplitter()
        split.addWidget(w)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setCollapsible(0, False)
        split.setSizes([700, FRAMES_COLUMN_MIN_PX + 40])
        self.recordings_split = split
        # keyboard: Space plays/pauses, Left/Right step (Shift: a bigger step), when the tab has focus
        for key, slot in (("Space", self.player.toggle),
                          ("Left", lambda: self.seek(max(0.0, self.player.position - SEEK_STEP_S))),
                          ("Right", lambda: self.seek(self.player.position + SEEK_STEP_S)),
                          ("Shift+Left", lambda: self.seek(max(0.0, self.player.position - SEEK_BIG_STEP_S))),
                          ("Shift+Right", lambda: self.seek(self.player.position + SEEK_BIG_STEP_S))):
            sc = QShortcut(QKeySequence(key), split)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
        split.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return _scroll(split)

    def _build_identity(self) -> QWidget:
        inner = QWidget()
        v = QVBoxLayout(inner)
        v.addWidget(section_title("ID portrait beside the faces in the interview"))
        self.identity_summary = hint_label("")
        v.addWidget(self.identity_summary)
        holder = QWidget()
        self.identity_flow = FlowLayout(holder)
        v.addWidget(holder)
        v.addWidget(section_title("Reuse: the same photo, face or voice under another candidate"))
        self.reuse_summary = hint_label("")
        v.addWidget(self.reuse_summary)
        self.voice_reuse = hint_label("")  # the voice check's library matches: the same voice under another name
        self.voice_reuse.setTextFormat(Qt.TextFormat.RichText)
        self.voice_reuse.setToolTip("The library's voice prints: the same voice under another name. Voice distance: the "
                                    "cosine distance between two voice prints (0 = identical); see the Voice tab for the bar.")
        self.voice_reuse.setVisible(False)
        v.addWidget(self.voice_reuse)
        holder2 = QWidget()
        self.reuse_flow = FlowLayout(holder2)
        v.addWidget(holder2)
        v.addStretch(1)
        return _scroll(inner)

    def _build_evidence(self) -> QWidget:
        inner = QWidget()
        self.evidence_layout = QVBoxLayout(inner)
        self.evidence_layout.addStretch(1)
        return _scroll(inner)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        elided(self.meta_label, getattr(self, "_meta_text", self.meta_label.text()), self.meta_label.width())

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self.candidate is not None and event.mimeData().hasUrls() and _local_files(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = _local_files(event.mimeData().urls())
        if files:
            event.acceptProposedAction()
            self.filesDropped.emit(files)

    # ------------------------------------------------------------------ filling in
    def set_candidate(self, candidate: Any, media_rows: list[Any], report: dict[str, Any] | None,
                      stale: list[str] | None = None) -> None:
        """Show a candidate. ``stale``: why the saved results no longer match the library (a later
        candidate reuses this one's face or photo, a file was removed): marked, with Re-analyse."""
        changed = engine.row_get(candidate, "id") != engine.row_get(self.candidate, "id")
        self.candidate = candidate
        self.media_rows = list(media_rows)
        self.report = report
        self.stale = list(stale or []) if report else []
        has = candidate is not None
        self.analyse_button.setText("Re-&analyse" if self.stale else "&Analyse")
        for w in (self.analyse_button, self.add_videos_button, self.add_photos_button, self.remove_button, self.erase_button):
            w.setEnabled(has)
        self.pdf_button.setEnabled(bool(report))
        self.json_button.setEnabled(bool(report))
        if not has:
            self.name_label.setText("No candidate selected")
            self.meta_label.setText("Create a candidate (New candidate), then drop recordings and ID photos on this page.")
        else:
            self.name_label.setText(str(engine.row_get(candidate, "name", "")))
            n_vid = sum(1 for r in media_rows if engine.row_get(r, "role") == "video")
            n_img = len(media_rows) - n_vid
            when = report.get("created_at", "") if report else ""
            conf = engine.finite(report.get("confidence")) if report else None
            parts = [f"{n_vid} recording(s), {n_img} photo(s)"]
            if when:
                parts.append(f"analysed {when.replace('T', ' ').replace('+00:00', ' UTC')}")
            if conf is not None:
                parts.append(f"evidence coverage {conf:.0%}")
            if not report:
                parts.append("not analysed yet — press Analyse")
            if self.stale:
                parts.insert(0, "OUT OF DATE")
            self.meta_label.setText(" · ".join(parts))
        self._meta_text = self.meta_label.text()
        elided(self.meta_label, self._meta_text, self.meta_label.width())
        self.badge.set_report(report, stale=bool(self.stale))
        reasons = (report or {}).get("reasons") or []
        errors = (report or {}).get("errors") or []
        html = "".join(f"<li style='color:#8a5300'><b>Out of date:</b> {_esc(r)} Press Re-analyse.</li>" for r in self.stale)
        html += "".join(f"<li>{_esc(r)}</li>" for r in reasons)
        html += "".join(f"<li style='color:#c62828'>{_esc(e)}</li>" for e in errors)
        self.reasons_label.setText(f"<ul style='margin-left:-20px; margin-top:0'>{html}</ul>" if html else "")
        self.reasons_area.verticalScrollBar().setValue(0)
        self.voice = engine.voice_evidence(report)
        self._fill_checks()
        self._fill_media()
        if changed:
            self.player.open(None)  # a new candidate starts at the beginning, never at the last one's moment
        self._fill_recordings()
        self._fill_identity()
        self._fill_evidence()
        self._fill_voice()

    def _fill_checks(self) -> None:
        checks = (self.report or {}).get("checks") or {}
        contributions = (self.report or {}).get("contributions") or {}
        self.checks_table.setRowCount(len(checks))
        for row, (name, c) in enumerate(checks.items()):
            c = c if isinstance(c, dict) else {}  # a malformed check shows as not judged, never breaks the page
            risk = engine.finite(c.get("risk")) or 0.0
            conf = engine.finite(c.get("confidence")) or 0.0
            off = engine.finite(contributions.get(name))
            items = [
                QTableWidgetItem(engine.check_title(name)),
                QTableWidgetItem(f"{risk:.2f}"),
                QTableWidgetItem(f"{conf:.0%}"),
                QTableWidgetItem(f"−{off:.1f}" if off else "0"),
                QTableWidgetItem(str(c.get("summary", ""))),
            ]
            if conf > 0:
                items[1].setBackground(QColor(engine.risk_colour(risk)))
                items[1].setForeground(QColor("white"))
            else:
                items[1].setText("n/a")
                items[1].setToolTip("This check could not judge the media (see the reason)")
            details = engine.scalar_evidence(c.get("evidence") or {})
            tip = "\n".join(f"{k}: {v}" for k, v in details)
            for col, item in enumerate(items):
                item.setToolTip(item.toolTip() or tip)
                if col in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.checks_table.setItem(row, col, item)
        self.checks_table.resizeRowsToContents()
        if not self.report:
            self.checks_hint.setText("No analysis yet." if self.candidate is not None else "")
        elif not checks:
            self.checks_hint.setText("No check could run on these files.")
        else:
            self.checks_hint.setText("Risk: 0 = no sign of manipulation, 1 = certain. A check with confidence n/a could not judge "
                                     "this media. Double-click a check to see its evidence.")

    CHECK_TABS = {"faceswap": 1, "lipsync": 1, "identity": 2, "reuse": 2, "idphoto": 3}

    def open_check(self, row: int) -> None:
        """Show the tab with a check's evidence (the Voice tab for the voice check)."""
        names = list(((self.report or {}).get("checks") or {}).keys())
        if not 0 <= row < len(names):
            return
        if names[row] == "voice":
            self.tabs.setCurrentWidget(self.voice_tab)
        elif names[row] in self.CHECK_TABS:
            self.tabs.setCurrentIndex(self.CHECK_TABS[names[row]])

    def _fill_media(self) -> None:
        entries = {}
        for m in (self.report or {}).get("media") or []:
            entries[str(m.get("path"))] = m
        verdicts = engine.file_verdicts(self.report or {})
        self.media_table.setSortingEnabled(False)
        self.media_table.setRowCount(len(self.media_rows))
        for row, r in enumerate(self.media_rows):
            path = str(engine.row_get(r, "path", ""))
            role = str(engine.row_get(r, "role", ""))
            kind = {"video": "Recording", "id": "ID photo", "photo": "Photo"}.get(role, role)
            entry = entries.get(path)
            if not Path(path).exists():
                result = "File is missing (moved or deleted)"
            elif entry is None:
                result = "not analysed yet"
            elif entry.get("error"):
                result = f"Could not be used: {entry['error']}"
            elif role == "video":
                dur = engine.finite(entry.get("duration_s")) or 0.0
                result = f"{dur:.1f} s, {entry.get('frames_analysed', 0)} frames analysed, face in {entry.get('faces_found', 0)}"
                notes = entry.get("notes") or []
                if notes:
                    result += " — " + "; ".join(map(str, notes))
            else:
                result = f"{entry.get('faces_found', 0)} face(s) found"
                notes = entry.get("notes") or []
                if notes:
                    result += " — " + "; ".join(map(str, notes))
            name_item = QTableWidgetItem(Path(path).name)
            name_item.setToolTip(path)
            name_item.setData(Qt.ItemDataRole.UserRole, engine.row_get(r, "id"))
            verdict = verdicts.get(path)
            if verdict is not None and role == "video":
                result = f"{verdict['summary']} — {result}" if verdict.get("summary") else result
            res_item = QTableWidgetItem(result)
            res_item.setToolTip(result)
            if result.startswith(("Could not", "File is missing")):
                res_item.setForeground(QColor("#c62828"))
            risk_item = QTableWidgetItem("—")
            risk_item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if verdict is not None:
                r = engine.finite(verdict.get("risk"))
                level = str(verdict.get("level", ""))
                risk_item.setText(f"{r:.2f} {level}" if r is not None else "not judged")
                risk_item.setToolTip("This recording's own risk: the strongest reading of any check on it "
                                     "(0 = no sign, 1 = certain). " + "; ".join(
                                         f"{engine.check_title(k)} {v:.2f}" for k, v in (verdict.get("checks") or {}).items()))
                risk_item.setBackground(QColor(LEVEL_COLOURS.get(level, "#78909c")))
                risk_item.setForeground(QColor("white"))
            self.media_table.setItem(row, 0, name_item)
            self.media_table.setItem(row, 1, QTableWidgetItem(kind))
            self.media_table.setItem(row, 2, risk_item)
            self.media_table.setItem(row, 3, res_item)
        self.media_table.resizeRowsToContents()

    def _media_menu(self, pos: Any) -> None:
        row = self.media_table.rowAt(pos.y())
        if row < 0:
            return
        self.media_table.selectRow(row)
        menu = QMenu(self)
        item = self.media_table.item(row, 0)
        path = item.toolTip() if item is not None else ""
        if engine.guess_role(path) == "video":
            menu.addAction("Show in the player", lambda: self._play_row(row))
        menu.addAction("Remove from this candidate", self._remove_selected)
        menu.exec(self.media_table.viewport().mapToGlobal(pos))

    def _play_row(self, row: int) -> None:
        """Open a recording of the files table in the Recordings tab."""
        item = self.media_table.item(row, 0)
        if item is None:
            return
        index = self.recording_combo.findData(item.toolTip())
        if index >= 0:
            self.recording_combo.setCurrentIndex(index)
            self.tabs.setCurrentIndex(1)

    def _remove_selected(self) -> None:
        rows = {i.row() for i in self.media_table.selectedItems()}
        for row in sorted(rows):
            item = self.media_table.item(row, 0)
            if item is not None:
                self.removeMediaRequested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _fill_recordings(self) -> None:
        self.recordings = engine.recording_evidence(self.report or {})
        # recordings of this candidate that have no report yet can still be played
        known = {r.path for r in self.recordings}
        for r in self.media_rows:
            p = str(engine.row_get(r, "path", ""))
            if engine.row_get(r, "role") == "video" and p not in known:
                self.recordings.append(engine.RecordingEvidence(p, 0.0, [], [], [], []))
        self.recording_combo.blockSignals(True)
        self.recording_combo.clear()
        for r in self.recordings:
            self.recording_combo.addItem(Path(r.path).name, r.path)
        self.recording_combo.blockSignals(False)
        self._show_recording(0 if self.recordings else -1)

    def _show_recording(self, index: int) -> None:
        clear_layout(self.timeline_holder)
        clear_layout(self.frames_flow)
        self.timeline = None
        if index < 0 or index >= len(self.recordings):
            self.player.open(None)
            self.voice_box.set_recording(self.voice, None)
            return
        ev = self.recordings[index]
        self.voice_box.set_recording(self.voice if self.report else None, ev.path, analysed=bool(self.report))
        opened = Path(ev.path).exists() and self.player.open(ev.path)
        if not Path(ev.path).exists():
            self.player.view.set_image(None, f"“{Path(ev.path).name}” is missing (moved or deleted)")
        if opened and ev.duration_s <= 0:
            ev.duration_s = self.player.duration
        self.timeline = TimelineWidget(ev)
        self.timeline.seekRequested.connect(self.seek)
        self.timeline_holder.addWidget(self.timeline)
        for f in engine.suspicious_frames(ev, TOP_FRAMES_SHOWN):
            clip = f.get("model") == "clip"
            t = engine.finite(f.get("t"))
            risk = engine.finite(engine.first_key(f, "risk", "blend_probability", "score"))
            face = pixmap_from_b64(f.get("face_png"), FRAME_THUMB)
            heat = pixmap_from_b64(f.get("heatmap_png"), FRAME_THUMB)
            caption = f"at {t:.1f} s" if t is not None else "frame"
            if risk is not None:
                caption += f" · {'CLIP reading' if clip else 'frame score'} {risk:.2f}"
            card = PictureCard([face, heat] if heat is not None else [face], caption, FRAME_THUMB)
            card.setToolTip(("Click to show this moment in the player. " if t is not None else "") + (CLIP_SCORE_TIP if clip else FRAME_SCORE_TIP))
            if t is not None:
                card.clicked.connect(lambda t=t: self.seek(t))
            card.enlargeRequested.connect(lambda f=f, caption=caption: self._enlarge_frame(f, caption))
            self.frames_flow.addWidget(card)
        if not ev.top_frames and not ev.clip_frames:
            self.frames_flow.addWidget(hint_label("No suspicious frames were reported for this recording."))

    def _enlarge_frame(self, frame: dict[str, Any], caption: str) -> None:
        clip = frame.get("model") == "clip"
        pictures = [(pixmap_from_b64(frame.get("face_png")), "the face in this frame")]
        if frame.get("heatmap_png"):
            pictures.append((pixmap_from_b64(frame.get("heatmap_png")),
                             "where the CLIP probe reads a swapped face" if clip else "where the model saw blending"))
        tip = CLIP_SCORE_TIP if clip else FRAME_SCORE_TIP
        self.dialogs.append(show_enlarged(self, f"Frame {caption}", pictures, tip.rsplit(". Double", 1)[0] + ".",
                                          "inferno" if frame.get("heatmap_png") else None,
                                          "reads as an average face" if clip else "no sign of blending",
                                          "reads most swapped" if clip else "strong sign of blending"))

    def show_moment(self, recording: str, t: float) -> None:
        """Open ``recording`` (a path or a file name) in the Recordings tab at ``t`` seconds."""
        name = Path(recording).name
        index = next((i for i, r in enumerate(self.recordings) if r.path == recording), -1)
        if index < 0:
            index = next((i for i, r in enumerate(self.recordings) if Path(r.path).name == name), -1)
        if index < 0:
            self.errorOccurred.emit(f"“{name}” is not among this candidate's recordings any more.")
            return
        if self.recording_combo.currentIndex() != index:
            self.recording_combo.setCurrentIndex(index)
        self.tabs.setCurrentIndex(1)
        self.seek(t)

    def _fill_voice(self) -> None:
        names = [Path(r.path).name for r in engine.recording_evidence(self.report or {})]
        self.voice_panel.set_evidence(self.voice, analysed=bool(self.report), recordings=names)

    def seek(self, t: float) -> None:
        self.player.seek(t)
        if self.timeline is not None:
            self.timeline.set_playhead(t)

    def _on_position(self, t: float) -> None:
        if self.timeline is not None:
            self.timeline.set_playhead(t)

    def _fill_identity(self) -> None:
        clear_layout(self.identity_flow)
        clear_layout(self.reuse_flow)
        report = self.report or {}
        checks = report.get("checks") or {}
        id_ev = (checks.get("identity") or {}).get("evidence") or {}
        photo_ev = (checks.get("idphoto") or {}).get("evidence") or {}

        # left: the ID portrait (the face the checks used, else the photo file)
        portraits: list[tuple[QPixmap | None, str]] = []
        if id_ev.get("id_face_png"):
            portraits.append((pixmap_from_b64(id_ev["id_face_png"], THUMB), f"ID photo face\n{short(Path(str(id_ev.get('id_photo', ''))).name)}"))
        elif photo_ev.get("portrait_png"):
            portraits.append((pixmap_from_b64(photo_ev["portrait_png"], THUMB), "ID portrait"))
        for r in self.media_rows:
            if engine.row_get(r, "role") in ("id", "photo") and len(portraits) < 3:
                path = str(engine.row_get(r, "path", ""))
                if id_ev.get("id_photo") and Path(str(id_ev["id_photo"])).name == Path(path).name:
                    continue
                label = "ID photo" if engine.row_get(r, "role") == "id" else "Photo"
                portraits.append((pixmap_from_file(path, THUMB), f"{label}\n{short(Path(path).name)}"))
        for pm, caption in portraits:
            self.identity_flow.addWidget(PictureCard([pm], caption, THUMB))
        # right: faces from the interview (the face-swap check's sampled frames)
        interview = 0
        for rec in self.recordings:
            for f in rec.top_frames[:4]:
                if not f.get("face_png"):
                    continue
                t = engine.finite(f.get("t"))
                when = f" at {t:.1f} s" if t is not None else ""
                card = PictureCard([pixmap_from_b64(f["face_png"], THUMB)], f"Interview{when}\n{Path(rec.path).name}", THUMB)
                self.identity_flow.addWidget(card)
                interview += 1
        if not portraits and not interview:
            self.identity_flow.addWidget(hint_label("No ID photo or interview face yet."))
        idc = checks.get("identity") or checks.get("idphoto")
        if idc:
            lines = [f"<b>{_esc(engine.check_title(n))}</b>: {_esc((checks.get(n) or {}).get('summary', ''))}"
                     for n in ("identity", "idphoto") if checks.get(n)]
            med = engine.finite(id_ev.get("median_distance"))
            thr = engine.finite(id_ev.get("threshold"))
            if med is not None:
                lines.append(f"Median face distance interview ↔ ID photo: {med:.2f}" + (f" (same person below {thr:.2f})" if thr else ""))
            cross = id_ev.get("cross_recording") or {}
            for pair in (cross.get("pairs") or [])[:10]:
                d = engine.finite(pair.get("distance"))
                if d is None:
                    continue
                colour = "#2e7d32" if pair.get("same_person") else "#c62828"
                lines.append(f"Recording ↔ recording: {_esc(Path(str(pair.get('a'))).name)} ↔ {_esc(Path(str(pair.get('b'))).name)}: "
                             f"<span style='color:{colour}'>face distance {d:.2f} "
                             f"({'same person' if pair.get('same_person') else 'different people'})</span>")
            self.identity_summary.setText("<br>".join(lines))
        else:
            self.identity_summary.setText("The identity check has not reported for this candidate.")

        matches = engine.reuse_matches(report)
        reuse = checks.get("reuse")
        self.reuse_summary.setText(str(reuse.get("summary", "")) if reuse else "The reuse check has not reported for this candidate.")
        interview_face = next((f["face_png"] for rec in self.recordings for f in rec.top_frames if f.get("face_png")), None)
        for m in matches[:12]:
            query = str(m.get("query") or "")
            if query and engine.guess_role(query) != "video" and Path(query).exists():
                mine = pixmap_from_file(query, THUMB)
            elif interview_face:
                mine = pixmap_from_b64(interview_face, THUMB)
            else:
                mine = video_thumbnail(query, THUMB) if query and Path(query).exists() else None
            other_file = str(m.get("file") or m.get("path") or "")
            theirs = None
            if other_file and Path(other_file).exists():
                theirs = video_thumbnail(other_file, THUMB) if engine.guess_role(other_file) == "video" else pixmap_from_file(other_file, THUMB)
            dist = engine.finite(m.get("distance"))
            who = m.get("candidate") or (f"collection {m['collection']}" if m.get("collection") else "another entry")
            kind = {"same-image": "same photo", "same-face": "same face"}.get(str(m.get("kind")), str(m.get("kind", "")))
            caption = (f"This candidate: {short(Path(query).name, 28) if query else ''}\n{who}: {short(Path(other_file).name, 28)}\n{kind}"
                       + (f", distance {dist:.2f}" if dist is not None else ""))
            self.reuse_flow.addWidget(PictureCard([mine, theirs], caption, THUMB))
        voice_matches = self.voice.matches if self.voice is not None else []
        lines = [f"<b>Same voice</b>: this candidate's {_esc(m.recording or 'recording')} and {_esc(m.who)}'s "
                 f"{_esc(m.file or 'recording')}, voice distance {m.distance:.2f}"
                 + (f" ({m.speech_s:.1f} s of their speech)" if m.speech_s is not None else "") for m in voice_matches[:12]]
        self.voice_reuse.setText("<br>".join(lines) + (" — details in the Voice tab." if lines else ""))
        self.voice_reuse.setVisible(bool(lines))
        if not matches and not voice_matches:
            self.reuse_flow.addWidget(hint_label("No match in the library."))


    def _fill_evidence(self) -> None:
        """Every picture any check attached to its evidence (keys ending in ``_png``), by check."""
        clear_layout(self.evidence_layout)
        checks = (self.report or {}).get("checks") or {}
        shown = 0
        for name, c in checks.items():
            pics = engine.png_fields((c or {}).get("evidence") or {})
            if not pics:
                continue
            self.evidence_layout.addWidget(section_title(f"{engine.check_title(name)}: {len(pics)} picture(s)"))
            summary = hint_label(str((c or {}).get("summary", "")))
            self.evidence_layout.addWidget(summary)
            holder = QWidget()
            flow = FlowLayout(holder)
            for key, b64 in pics[:engine.EVIDENCE_PICTURES_PER_CHECK]:
                label = engine.evidence_label(key)
                card = PictureCard([pixmap_from_b64(b64, THUMB)], label.replace(": ", "\n"), THUMB)
                card.setToolTip(f"{key}: double-click to enlarge")
                card.enlargeRequested.connect(lambda key=key, b64=b64, name=name: self._enlarge_evidence(name, key, b64))
                flow.addWidget(card)
                shown += 1
            self.evidence_layout.addWidget(holder)
        if not shown:
            self.evidence_layout.addWidget(hint_label("No check attached pictures to this report." if self.report
                                                      else "Analyse the candidate to see the checks' pictures."))
        self.evidence_layout.addStretch(1)

    def _enlarge_evidence(self, check: str, key: str, b64: str) -> None:
        scale = engine.evidence_scale(key)
        self.dialogs.append(show_enlarged(self, f"{engine.check_title(check)}: {engine.evidence_label(key)}",
                                          [(pixmap_from_b64(b64), engine.evidence_label(key))], key,
                                          scale, "low", "high"))


def _esc(text: Any) -> str:
    import html

    return html.escape(str(text))
