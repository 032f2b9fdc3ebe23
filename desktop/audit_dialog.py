"""The audit log: who ran which analysis, export or erasure, and when (newest first).

The library keeps the log (``Library.audit_log``) and names candidates by id only, so an erased
candidate's entries keep who/what/when without their name. This dialog adds the name of
candidates that still exist, for the reader's convenience.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Mapping

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import engine

log = logging.getLogger(__name__)

COLUMNS = ("When", "Who", "Action", "Candidate", "Detail")
DEFAULT_LIMIT = 500
MAX_LIMIT = 100_000
CANDIDATE_SUBJECT = "candidate#"
ACTION_LABELS = {
    "analysis": "analysis",
    "export": "export",
    "erase-candidate": "erased candidate",
    "add-candidate": "new candidate",
    "add-media": "file added",
    "remove-media": "file removed",
    "add-face-embeddings": "faces stored",
    "set-retention": "retention set",
    "export-watchlist": "watchlist exported",
    "import-watchlist": "watchlist imported",
    "import-collection": "collection imported",
    "erase-collection": "collection erased",
}


def candidate_id_of(subject: Any) -> int | None:
    """``"candidate#12"`` -> 12; anything else -> None."""
    if isinstance(subject, str) and subject.startswith(CANDIDATE_SUBJECT):
        try:
            return int(subject[len(CANDIDATE_SUBJECT):])
        except ValueError:
            return None
    return None


def local_time(iso: str) -> str:
    """A UTC ISO-8601 time as local ``YYYY-MM-DD HH:MM:SS``; unparseable text as it is."""
    try:
        return datetime.fromisoformat(str(iso)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(iso)


def detail_text(detail: Any) -> str:
    """An entry's detail dict as ``key: value`` pairs on one line."""
    if isinstance(detail, Mapping):
        parts = []
        for k, v in detail.items():
            if isinstance(v, float):
                v = f"{v:.3g}"
            elif isinstance(v, (dict, list)):
                v = json.dumps(v, ensure_ascii=False)
            parts.append(f"{k}: {v}")
        return ", ".join(parts)
    return "" if detail is None else str(detail)


class AuditDialog(QDialog):
    """Lists the library's audit entries: when, who, action, candidate id (and name), detail."""

    def __init__(self, library: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit log")
        self.library = library
        self.entries: list[dict[str, Any]] = []

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (action, user, candidate, detail)…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(lambda _t: self._fill())
        self.limit = QSpinBox()
        self.limit.setRange(10, MAX_LIMIT)
        self.limit.setValue(DEFAULT_LIMIT)
        self.limit.setPrefix("newest ")
        self.limit.setSuffix(" entries")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.limit)
        top.addWidget(refresh)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        hh = self.table.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.note = QLabel("The library records who (the computer's user name) ran each analysis, export and "
                           "erasure, and when. Candidates are recorded by id; erased ones keep their entries "
                           "without a name or file paths.")
        self.note.setObjectName("Hint")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(900, 520)
        self.limit.valueChanged.connect(lambda _v: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        try:
            self.entries = list(self.library.audit_log(limit=self.limit.value())) if self.library is not None else []
            names = {engine.row_get(r, "id"): str(engine.row_get(r, "name", "")) for r in self.library.candidates()} \
                if self.library is not None else {}
        except Exception as exc:  # noqa: BLE001 - say so in the dialog, keep it open
            log.exception("audit log")
            self.entries, names = [], {}
            self.note.setText(f"The audit log could not be read: {exc}")
        self.names = names
        self._fill()

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """The table's text, row by row, after the filter."""
        needle = self.filter.text().strip().lower()
        out = []
        for e in self.entries:
            subject = e.get("subject")
            cid = candidate_id_of(subject)
            if cid is not None:
                who_for = f"#{cid}" + (f" {self.names[cid]}" if cid in self.names else "")
            else:
                who_for = "" if subject is None else str(subject)
            action = str(e.get("action", ""))
            row = (local_time(e.get("at", "")), str(e.get("user", "")), ACTION_LABELS.get(action, action),
                   who_for, detail_text(e.get("detail")))
            if needle and not any(needle in cell.lower() for cell in row):
                continue
            out.append(row)
        return out

    def _fill(self) -> None:
        rows = self.rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
