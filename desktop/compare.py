"""Compare view: two or more candidates side by side (face, score, verdict, each check) and the
face distance between every pair (computed in the background from ID photos or report faces).

Any number of candidates: the columns scroll sideways inside the view, so the window never
grows with them; the comparison exports as a PDF (``export_pdf``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import engine
from .images import pixmap_from_b64, pixmap_from_file, placeholder
from .widgets import ScoreBadge, clear_layout, elided, hint_label, section_title
from .workers import FaceDistanceJob, WorkerPool

FACE = 96
COLUMN_PX = 2 * FACE + 24  # one candidate's column: two faces side by side
SAME_PERSON_DISTANCE = 0.6
"""dlib distance under which two faces are read as the same person (face_recognition's tolerance)."""


@dataclass
class CompareItem:
    candidate: Any
    report: dict[str, Any] | None
    media: list[Any]

    @property
    def name(self) -> str:
        return str(engine.row_get(self.candidate, "name", "?"))

    def photo_paths(self) -> list[str]:
        rows = sorted(self.media, key=lambda r: 0 if engine.row_get(r, "role") == "id" else 1)
        return [str(engine.row_get(r, "path")) for r in rows
                if engine.row_get(r, "role") in ("id", "photo") and Path(str(engine.row_get(r, "path"))).exists()]

    def interview_crops(self) -> list[str]:
        """Face crops from the interview recordings (the face-swap check's sampled frames)."""
        return [f["face_png"] for rec in engine.recording_evidence(self.report or {}) for f in rec.top_frames if f.get("face_png")]

    def face_crops(self) -> list[str]:
        out = [b for _, b in engine.face_thumbnails(self.report or {})]
        for rec in engine.recording_evidence(self.report or {}):
            out += [f["face_png"] for f in rec.top_frames if f.get("face_png")]
        return out


class CompareView(QWidget):
    """Pick candidates on the left; see them side by side on the right."""

    compareRequested = Signal(list)  # noqa: N815 - candidate ids
    exportPdfRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = WorkerPool("compare", 1)
        self._jobs: dict[str, FaceDistanceJob] = {}
        self.items: list[CompareItem] = []
        self.distances: dict[tuple[str, str], float | None] = {}
        self.via: dict[tuple[str, str], str] = {}

        self.picker = QListWidget()
        self.picker.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.compare_button = QPushButton("C&ompare checked")
        self.compare_button.setObjectName("Primary")
        self.compare_button.clicked.connect(self._request)
        self.pdf_button = QPushButton("Export comparison PDF…")
        self.pdf_button.setEnabled(False)
        self.pdf_button.clicked.connect(self.exportPdfRequested)
        left = QWidget()
        left.setMinimumWidth(150)
        lv = QVBoxLayout(left)
        lv.addWidget(section_title("Candidates"))
        lv.addWidget(hint_label("Tick two or more, then Compare."))
        lv.addWidget(self.picker, 1)
        lv.addWidget(self.compare_button)
        lv.addWidget(self.pdf_button)

        grid_holder = QWidget()
        self.columns = QGridLayout(grid_holder)
        self.columns.setHorizontalSpacing(18)
        self.columns.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.columns_area = QScrollArea()
        self.columns_area.setWidgetResizable(True)
        self.columns_area.setWidget(grid_holder)
        self.columns_area.setMinimumHeight(160)
        bottom = QWidget()
        rv = QVBoxLayout(bottom)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(section_title("Face distance between candidates"))
        rv.addWidget(hint_label(f"dlib face embedding distance: below {SAME_PERSON_DISTANCE} usually means the same person."))
        self.distance_table = QTableWidget(0, 4)
        self.distance_table.setHorizontalHeaderLabels(["Candidates", "Closest face distance", "Faces compared", "Reading"])
        self.distance_table.verticalHeader().setVisible(False)
        self.distance_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        dh = self.distance_table.horizontalHeader()
        for col in range(4):  # whole texts; the table scrolls sideways when they do not fit
            dh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        dh.setStretchLastSection(True)
        self.distance_table.setSortingEnabled(False)
        self.distance_table.setMinimumHeight(80)
        rv.addWidget(self.distance_table, 1)
        self.empty = hint_label("Nothing to compare yet.")
        rv.addWidget(self.empty)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.columns_area)
        right.addWidget(bottom)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        right.setSizes([330, 170])

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 900])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # picker ------------------------------------------------------------------------
    def set_candidates(self, rows: list[Any]) -> None:
        checked = set(self.checked_ids())
        self.picker.clear()
        for r in rows:
            cid = engine.row_get(r, "id")
            score = engine.finite(engine.row_get(r, "score"))
            text = engine.row_get(r, "name", "") + (f"  ({score:.0f})" if score is not None else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, cid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if cid in checked else Qt.CheckState.Unchecked)
            self.picker.addItem(item)

    def set_checked(self, ids: list[Any]) -> None:
        for i in range(self.picker.count()):
            item = self.picker.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def checked_ids(self) -> list[Any]:
        out = []
        for i in range(self.picker.count()):
            item = self.picker.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def _request(self) -> None:
        self.compareRequested.emit(self.checked_ids())

    # showing -------------------------------------------------------------------------
    def show_items(self, items: list[CompareItem]) -> None:
        self.items = items
        clear_layout(self.columns)
        self.pdf_button.setEnabled(len(items) >= 2)
        self.empty.setVisible(len(items) < 2)
        if len(items) < 2:
            self.empty.setText("Tick at least two candidates to compare them.")
        checks: list[str] = []
        for it in items:
            for name in ((it.report or {}).get("checks") or {}):
                if name not in checks:
                    checks.append(name)
        for col, it in enumerate(items):
            photos = it.photo_paths()
            crops = it.interview_crops()
            pics = []
            if photos:
                pics.append((pixmap_from_file(photos[0], FACE), "ID photo"))
            if crops:
                pics.append((pixmap_from_b64(crops[0], FACE), "interview"))
            face = QWidget()
            fl = QHBoxLayout(face)
            fl.setContentsMargins(0, 0, 0, 0)
            for pm, label in pics or [(None, "")]:
                lab = QLabel()
                lab.setPixmap(pm or placeholder(FACE))
                lab.setFixedSize(FACE, FACE)
                lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
                lab.setToolTip(label)
                fl.addWidget(lab)
            name = QLabel()
            name.setObjectName("CompareName")
            name.setTextFormat(Qt.TextFormat.PlainText)
            font = name.font()
            font.setBold(True)
            name.setFont(font)
            elided(name, it.name, COLUMN_PX)
            badge = ScoreBadge(big=30)
            badge.set_report(it.report)
            self.columns.addWidget(face, 0, col, Qt.AlignmentFlag.AlignHCenter)
            self.columns.addWidget(name, 1, col, Qt.AlignmentFlag.AlignHCenter)
            self.columns.addWidget(badge, 2, col, Qt.AlignmentFlag.AlignHCenter)
            rep_checks = (it.report or {}).get("checks") or {}
            for row, check in enumerate(checks, start=3):
                c = rep_checks.get(check)
                if c is None:
                    lab = QLabel(f"{engine.check_title(check)}: —")
                    lab.setObjectName("Hint")
                else:
                    risk = engine.finite(c.get("risk")) or 0.0
                    conf = engine.finite(c.get("confidence")) or 0.0
                    colour = engine.risk_colour(risk) if conf > 0 else "#78909c"
                    value = f"{risk:.2f}" if conf > 0 else "n/a"
                    lab = QLabel(f"{engine.check_title(check)}: <span style='color:{colour}; font-weight:700'>{value}</span>")
                    lab.setToolTip(str(c.get("summary", "")))
                lab.setMaximumWidth(COLUMN_PX)
                self.columns.addWidget(lab, row, col, Qt.AlignmentFlag.AlignHCenter)
        self.distance_table.setRowCount(0)
        if len(items) >= 2:
            self._start_distances(items)

    def _start_distances(self, items: list[CompareItem]) -> None:
        request = uuid.uuid4().hex[:8]
        self._request_id = request
        names = [it.name for it in items]
        self.distance_table.setRowCount(0)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                self._set_distance_row(a, b, None, pending=True)
        sources = {it.name: {"photos": it.photo_paths(), "crops": it.interview_crops()} for it in items}
        job = FaceDistanceJob(request, sources)
        job.signals.finished.connect(self._on_distances)
        self._jobs[request] = job
        self.pool.start(job)

    def _on_distances(self, request: str, result: dict) -> None:
        self._jobs.pop(request, None)
        if request != getattr(self, "_request_id", None):
            return
        self.distances = {k: (v["distance"] if v else None) for k, v in result.items()}
        self.via = {k: v["via"] for k, v in result.items() if v}
        self.distance_table.setRowCount(0)
        for (a, b), d in self.distances.items():
            self._set_distance_row(a, b, d, via=self.via.get((a, b), ""))

    def _set_distance_row(self, a: str, b: str, d: float | None, pending: bool = False, via: str = "") -> None:
        row = self.distance_table.rowCount()
        self.distance_table.insertRow(row)
        self.distance_table.setItem(row, 0, QTableWidgetItem(f"{a}  ↔  {b}"))
        if pending:
            dist, reading = "computing…", ""
        elif d is None:
            dist, reading = "—", "no face to compare for one of them"
        else:
            dist = f"{d:.3f}"
            reading = "same person?" if d < SAME_PERSON_DISTANCE else "different people"
        item = QTableWidgetItem(dist)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        reading_item = QTableWidgetItem(reading)
        if d is not None and d < SAME_PERSON_DISTANCE:
            reading_item.setForeground(QColor("#c62828"))
        self.distance_table.setItem(row, 1, item)
        self.distance_table.setItem(row, 2, QTableWidgetItem(via))
        self.distance_table.setItem(row, 3, reading_item)

    def distance_rows(self) -> list[tuple[str, str, str, str]]:
        """The distance table as text rows (for the PDF)."""
        out = []
        for row in range(self.distance_table.rowCount()):
            out.append(tuple(self.distance_table.item(row, c).text() if self.distance_table.item(row, c) else ""
                             for c in range(4)))  # type: ignore[misc]
        return out

    def export_pdf(self, path: str | Path) -> Path:
        """The comparison as a PDF: each candidate's score, verdict and checks, and the face distances."""
        from .export import comparison_pdf

        return comparison_pdf([(it.name, it.report, it.photo_paths(), it.interview_crops()) for it in self.items],
                              self.distance_rows(), path)

    def wait_idle(self, msecs: int = 60_000) -> bool:
        return self.pool.waitForDone(msecs)
