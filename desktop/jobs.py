"""The analyses panel: one row per file being analysed, each with its progress bar and a cancel
button, grouped under its candidate with a button that cancels the whole run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .workers import CANDIDATE_STEP, AnalysisJob

PERCENT = 1000  # progress bar resolution
CANDIDATE_STEP_LABEL = "Candidate checks and score"


class FileRow:
    def __init__(self, grid: QGridLayout, row: int, label: str, on_cancel) -> None:  # noqa: ANN001
        self.name = QLabel(label)
        self.name.setMinimumWidth(180)
        self.bar = QProgressBar()
        self.bar.setRange(0, PERCENT)
        self.bar.setValue(0)
        self.bar.setFormat("waiting")
        self.bar.setTextVisible(True)
        self.status = QLabel("")
        self.status.setObjectName("Hint")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip(f"Stop analysing {label}")
        self.cancel.clicked.connect(on_cancel)
        grid.addWidget(self.name, row, 0)
        grid.addWidget(self.bar, row, 1)
        grid.addWidget(self.cancel, row, 2)
        grid.addWidget(self.status, row, 3)

    @property
    def busy(self) -> bool:
        return self.bar.maximum() == 0

    def set_busy(self, message: str) -> None:
        """An indeterminate (moving) bar: work whose length is unknown is under way."""
        self.bar.setRange(0, 0)
        self.bar.setToolTip(message)
        self.status.setText(message)

    def _determinate(self) -> None:
        if self.busy:
            self.bar.setRange(0, PERCENT)
            self.bar.setToolTip("")

    def set_progress(self, fraction: float, message: str) -> None:
        self._determinate()
        self.bar.setValue(int(max(0.0, min(1.0, fraction)) * PERCENT))
        self.bar.setFormat(f"{fraction:.0%}")
        self.status.setText(message)

    def finish(self, status: str, message: str) -> None:
        self.cancel.setEnabled(False)
        self._determinate()
        if status == "done":
            self.bar.setValue(PERCENT)
            self.bar.setFormat("done")
        elif status == "cancelled":
            self.bar.setFormat("cancelled")
        else:
            self.bar.setFormat("failed")
            self.bar.setStyleSheet("QProgressBar::chunk { background: #c62828; }")
        self.status.setText(message)


class JobBox(QFrame):
    """One candidate's run."""

    def __init__(self, job: AnalysisJob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"<b>{job.candidate_name}</b> — queued")
        self.cancel_all = QPushButton("Cancel all")
        self.cancel_all.clicked.connect(job.cancel)
        self.close_button = QPushButton("Dismiss")
        self.close_button.setVisible(False)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.cancel_all)
        head.addWidget(self.close_button)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.rows: dict[str, FileRow] = {}
        for i, f in enumerate(job.files):
            self.rows[f.key] = FileRow(grid, i, Path(f.path).name, lambda _=False, k=f.key: self._cancel(k))
        self.rows[CANDIDATE_STEP] = FileRow(grid, len(job.files), CANDIDATE_STEP_LABEL, lambda _=False: self._cancel(CANDIDATE_STEP))
        self.rows[CANDIDATE_STEP].name.setToolTip("The checks across all files (same person as the ID photo, "
                                                  "photo or face seen before) and the score; "
                                                  "their length is not known in advance, so the bar just moves")
        v = QVBoxLayout(self)
        v.addLayout(head)
        v.addLayout(grid)
        self.status = "queued"

    def _cancel(self, key: str) -> None:
        self.job.cancel_file(key)
        row = self.rows.get(key)
        if row is not None:
            row.cancel.setEnabled(False)
            row.status.setText("cancelling…")

    def on_progress(self, key: str, fraction: float, message: str) -> None:
        if self.status == "queued":
            self.status = "running"
            self.title.setText(f"<b>{self.job.candidate_name}</b> — analysing")
        row = self.rows.get(key)
        if row is None:
            return
        if key == CANDIDATE_STEP and fraction < 1.0:
            row.set_busy(message)  # build_report reports no progress: show it working
        else:
            row.set_progress(fraction, message)

    def on_file_finished(self, key: str, status: str, message: str) -> None:
        row = self.rows.get(key)
        if row is not None:
            row.finish(status, message)

    def on_finished(self, status: str) -> None:
        self.status = status
        text = {"done": "finished", "cancelled": "cancelled", "failed": "could not finish"}.get(status, status)
        self.title.setText(f"<b>{self.job.candidate_name}</b> — {text}")
        self.cancel_all.setEnabled(False)
        for row in self.rows.values():
            if row.cancel.isEnabled():
                row.finish("cancelled" if status != "done" else "done", "")
        self.close_button.setVisible(True)


class JobsPanel(QWidget):
    """All runs, newest at the top."""

    jobDismissed = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, JobBox] = {}
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(4, 4, 4, 4)
        self.empty = QLabel("No analysis running. Select a candidate and press Analyse.")
        self.empty.setObjectName("Hint")
        self.layout_.addWidget(self.empty)
        self.layout_.addStretch(1)

    def add_job(self, job: AnalysisJob) -> JobBox:
        box = JobBox(job, self)
        box.close_button.clicked.connect(lambda: self.remove_job(job.job_id))
        self.boxes[job.job_id] = box
        self.layout_.insertWidget(0, box)
        self.empty.setVisible(False)
        return box

    def remove_job(self, job_id: str) -> None:
        box = self.boxes.pop(job_id, None)
        if box is not None:
            box.setParent(None)
            box.deleteLater()
            self.jobDismissed.emit(job_id)
        self.empty.setVisible(not self.boxes)

    def active(self) -> list[JobBox]:
        return [b for b in self.boxes.values() if b.status in ("queued", "running")]


__all__ = ["JobsPanel", "JobBox", "Qt"]
