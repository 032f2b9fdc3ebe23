"""The timeline of one recording, drawn with QPainter: face-swap risk over time (top lane),
lip-sync offset over time with the mismatch segments shaded (bottom lane), the suspicious frames
as ticks, and the player's position. A click asks the player to seek there.

:func:`paint_timeline` draws into any QPainter, so the PDF report uses the same picture.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .engine import RecordingEvidence

RISK_COLOUR = QColor("#c62828")
OFFSET_COLOUR = QColor("#1565c0")
MISMATCH_COLOUR = QColor(255, 152, 0, 90)
FRAME_TICK_COLOUR = QColor("#6a1b9a")
PLAYHEAD_COLOUR = QColor("#00897b")
GRID_COLOUR = QColor("#cfd8dc")
LABEL_WIDTH = 92
AXIS_HEIGHT = 18
DEFAULT_OFFSET_RANGE_MS = 200.0
"""Half-height of the lip-sync lane (ms) unless the evidence has larger offsets."""


def _x(rect: QRectF, t: float, duration: float) -> float:
    return rect.left() + (t / duration) * rect.width() if duration > 0 else rect.left()


def paint_timeline(p: QPainter, area: QRectF, ev: RecordingEvidence, playhead: float | None = None) -> QRectF:
    """Draw the timeline into ``area``; returns the plot rectangle (time axis span)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillRect(area, QColor("white"))
    font = QFont(p.font())
    font.setPointSizeF(8.5)
    p.setFont(font)
    plot = QRectF(area.left() + LABEL_WIDTH, area.top() + 4, area.width() - LABEL_WIDTH - 8, area.height() - AXIS_HEIGHT - 8)
    lane_h = plot.height() / 2
    risk_lane = QRectF(plot.left(), plot.top(), plot.width(), lane_h - 3)
    sync_lane = QRectF(plot.left(), plot.top() + lane_h + 3, plot.width(), lane_h - 3)
    duration = max(ev.duration_s, 1e-3)

    for lane in (risk_lane, sync_lane):
        p.fillRect(lane, QColor("#f5f7f8"))
        p.setPen(QPen(GRID_COLOUR, 1))
        p.drawRect(lane)
    p.setPen(QColor("#37474f"))
    p.drawText(QRectF(area.left() + 4, risk_lane.top(), LABEL_WIDTH - 8, risk_lane.height()),
               Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, "Face-swap\nrisk")
    p.drawText(QRectF(area.left() + 4, sync_lane.top(), LABEL_WIDTH - 8, sync_lane.height()),
               Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, "Lip-sync\noffset")

    # face-swap risk: filled area, 0 at the bottom of the lane, 1 at the top
    if ev.faceswap_risk:
        path = QPainterPath()
        pts = sorted(ev.faceswap_risk)
        path.moveTo(_x(risk_lane, pts[0][0], duration), risk_lane.bottom())
        for t, r in pts:
            r = min(1.0, max(0.0, r))
            path.lineTo(_x(risk_lane, t, duration), risk_lane.bottom() - r * risk_lane.height())
        path.lineTo(_x(risk_lane, pts[-1][0], duration), risk_lane.bottom())
        path.closeSubpath()
        fill = QColor(RISK_COLOUR)
        fill.setAlpha(80)
        p.fillPath(path, fill)
        p.setPen(QPen(RISK_COLOUR, 1.5))
        p.drawPath(path)
        half = risk_lane.bottom() - 0.5 * risk_lane.height()
        p.setPen(QPen(GRID_COLOUR, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(risk_lane.left(), half), QPointF(risk_lane.right(), half))
    else:
        p.setPen(QColor("#90a4ae"))
        p.drawText(risk_lane, Qt.AlignmentFlag.AlignCenter, "no face-swap data for this recording")

    # suspicious frames as ticks on the risk lane
    p.setPen(QPen(FRAME_TICK_COLOUR, 2))
    for f in ev.top_frames:
        t = f.get("t")
        if isinstance(t, (int, float)):
            x = _x(risk_lane, float(t), duration)
            p.drawLine(QPointF(x, risk_lane.top()), QPointF(x, risk_lane.top() + 7))

    # lip-sync: mismatch segments shaded, offset line around zero
    for a, b in ev.mismatch_segments:
        x0, x1 = _x(sync_lane, a, duration), _x(sync_lane, b, duration)
        p.fillRect(QRectF(x0, sync_lane.top(), max(2.0, x1 - x0), sync_lane.height()), MISMATCH_COLOUR)
    mid = sync_lane.center().y()
    p.setPen(QPen(GRID_COLOUR, 1, Qt.PenStyle.DashLine))
    p.drawLine(QPointF(sync_lane.left(), mid), QPointF(sync_lane.right(), mid))
    if ev.lipsync_offsets:
        span = max([DEFAULT_OFFSET_RANGE_MS] + [abs(v) * 1.1 for _, v in ev.lipsync_offsets])
        path = QPainterPath()
        for i, (t, v) in enumerate(sorted(ev.lipsync_offsets)):
            pt = QPointF(_x(sync_lane, t, duration), mid - (v / span) * (sync_lane.height() / 2))
            path.moveTo(pt) if i == 0 else path.lineTo(pt)
        p.setPen(QPen(OFFSET_COLOUR, 1.6))
        p.drawPath(path)
        p.setPen(QColor("#607d8b"))
        p.drawText(QRectF(sync_lane.left() + 3, sync_lane.top(), 120, 14), Qt.AlignmentFlag.AlignLeft, f"+{span:.0f} ms")
        p.drawText(QRectF(sync_lane.left() + 3, sync_lane.bottom() - 14, 120, 14), Qt.AlignmentFlag.AlignLeft, f"−{span:.0f} ms")
    elif not ev.mismatch_segments:
        p.setPen(QColor("#90a4ae"))
        text = "no lip-sync data for this recording"
        if ev.lipsync_offset_ms is not None:
            text = f"overall offset {ev.lipsync_offset_ms:+.0f} ms (no per-window data)"
        p.drawText(sync_lane, Qt.AlignmentFlag.AlignCenter, text)

    # time axis
    p.setPen(QColor("#546e7a"))
    step = _nice_step(duration)
    t = 0.0
    while t <= duration + 1e-6:
        x = _x(plot, t, duration)
        p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 4))
        p.drawText(QRectF(x - 30, plot.bottom() + 4, 60, AXIS_HEIGHT - 4), Qt.AlignmentFlag.AlignHCenter, f"{t:g} s")
        t += step

    if playhead is not None:
        x = _x(plot, min(max(0.0, playhead), duration), duration)
        p.setPen(QPen(PLAYHEAD_COLOUR, 2))
        p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
    p.restore()
    return plot


def _nice_step(duration: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800):
        if duration / step <= 10:
            return float(step)
    return 3600.0


def timeline_image(ev: RecordingEvidence, width: int = 900, height: int = 150) -> QImage:
    """The timeline as a picture (for the PDF report)."""
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    paint_timeline(p, QRectF(0, 0, width, height), ev)
    p.end()
    return img


class TimelineWidget(QWidget):
    """Interactive timeline: click or drag to seek (``seekRequested(t)``)."""

    seekRequested = Signal(float)  # noqa: N815 - Qt style

    def __init__(self, evidence: RecordingEvidence, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evidence = evidence
        self.playhead: float | None = None
        self._plot = QRectF()
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to show this moment in the player")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, 140)

    def set_playhead(self, t: float | None) -> None:
        self.playhead = t
        self.update()

    def time_at(self, x: float) -> float:
        plot = self._plot if self._plot.width() > 0 else QRectF(LABEL_WIDTH, 0, max(1, self.width() - LABEL_WIDTH - 8), 1)
        frac = (x - plot.left()) / plot.width()
        return min(max(0.0, frac), 1.0) * self.evidence.duration_s

    def x_at(self, t: float) -> float:
        plot = self._plot if self._plot.width() > 0 else QRectF(LABEL_WIDTH, 0, max(1, self.width() - LABEL_WIDTH - 8), 1)
        return _x(plot, t, max(self.evidence.duration_s, 1e-3))

    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        p = QPainter(self)
        self._plot = paint_timeline(p, QRectF(self.rect()), self.evidence, self.playhead)
        p.end()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._seek(event.position().x())

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek(event.position().x())

    def _seek(self, x: float) -> None:
        t = self.time_at(x)
        self.set_playhead(t)
        self.seekRequested.emit(t)
