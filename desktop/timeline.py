"""The timeline of one recording, drawn with QPainter: face-swap risk over time (top lane),
lip-sync offset over time with the mismatch segments shaded (bottom lane), the suspicious frames
as ticks, who speaks (a thin band over the time axis: the candidate's voice excerpt, a second
voice), and the player's position. A click asks the player to seek there.

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


MOUTH_COLOUR = QColor("#2e7d32")
VOICE_COLOUR = QColor("#8d6e63")
ID_COLOUR = QColor("#37474f")  # dark grey: purple is the suspicious-frame ticks
EXCERPT_COLOUR = QColor("#3949ab")  # indigo: the candidate's voice excerpt
SECOND_VOICE_COLOUR = QColor("#d81b60")  # pink: a second voice
VOICE_BAND_PX = 4
LANE_HEIGHT = 46
COMPACT_LANE_HEIGHT = 30  # px: the least a lane gets when the window is short (two label lines still fit)
LANE_GAP = 6


def lanes_for(ev: RecordingEvidence) -> list[str]:
    """The lanes this recording's evidence fills: the two main ones always, the others when present."""
    lanes = ["risk", "sync"]
    if ev.mouth or ev.voice:
        lanes.append("signals")
    if ev.id_distance:
        lanes.append("identity")
    return lanes


def timeline_height(ev: RecordingEvidence, lane: int = LANE_HEIGHT) -> int:
    n = len(lanes_for(ev))
    return int(n * lane + (n - 1) * LANE_GAP + AXIS_HEIGHT + 12)


def _line(p: QPainter, lane: QRectF, pts: list[tuple[float, float]], duration: float, lo: float, hi: float, colour: QColor, width: float = 1.5) -> None:
    if not pts or hi <= lo:
        return
    path = QPainterPath()
    for i, (t, v) in enumerate(sorted(pts)):
        y = lane.bottom() - (min(max(v, lo), hi) - lo) / (hi - lo) * lane.height()
        pt = QPointF(_x(lane, t, duration), y)
        path.moveTo(pt) if i == 0 else path.lineTo(pt)
    p.setPen(QPen(colour, width))
    p.drawPath(path)


def _empty(p: QPainter, lane: QRectF, text: str) -> None:
    p.setPen(QColor("#90a4ae"))
    p.drawText(lane, Qt.AlignmentFlag.AlignCenter, text)


def paint_timeline(p: QPainter, area: QRectF, ev: RecordingEvidence, playhead: float | None = None) -> QRectF:
    """Draw the timeline into ``area``; returns the plot rectangle (time axis span)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillRect(area, QColor("white"))
    font = QFont(p.font())
    font.setPointSizeF(8.5)
    p.setFont(font)
    plot = QRectF(area.left() + LABEL_WIDTH, area.top() + 4, area.width() - LABEL_WIDTH - 8, area.height() - AXIS_HEIGHT - 8)
    names = lanes_for(ev)
    lane_h = (plot.height() - LANE_GAP * (len(names) - 1)) / len(names)
    lanes = {n: QRectF(plot.left(), plot.top() + i * (lane_h + LANE_GAP), plot.width(), lane_h) for i, n in enumerate(names)}
    titles = {"risk": "Face-swap\nrisk", "sync": "Lip-sync\noffset", "signals": "Mouth (green)\nvoice (brown)", "identity": "Face vs ID\ndistance"}
    duration = max(ev.duration_s, 1e-3)

    for name, lane in lanes.items():
        p.fillRect(lane, QColor("#f5f7f8"))
        p.setPen(QPen(GRID_COLOUR, 1))
        p.drawRect(lane)
        p.setPen(QColor("#37474f"))
        p.drawText(QRectF(area.left() + 4, lane.top(), LABEL_WIDTH - 8, lane.height()),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, titles[name])

    # face-swap risk: filled area, 0 at the bottom of the lane, 1 at the top
    risk_lane = lanes["risk"]
    if ev.faceswap_risk:
        pts = sorted(ev.faceswap_risk)
        path = QPainterPath()
        path.moveTo(_x(risk_lane, pts[0][0], duration), risk_lane.bottom())
        for t, r in pts:
            path.lineTo(_x(risk_lane, t, duration), risk_lane.bottom() - min(1.0, max(0.0, r)) * risk_lane.height())
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
        _empty(p, risk_lane, "no face-swap data for this recording")
    p.setPen(QPen(FRAME_TICK_COLOUR, 2))
    for f in ev.top_frames + ev.clip_frames:
        t = f.get("t")
        if isinstance(t, (int, float)):
            x = _x(risk_lane, float(t), duration)
            p.drawLine(QPointF(x, risk_lane.top()), QPointF(x, risk_lane.top() + 8))

    # lip-sync: mismatch segments shaded, offset line around zero
    sync_lane = lanes["sync"]
    for a, b in ev.mismatch_segments:
        x0, x1 = _x(sync_lane, a, duration), _x(sync_lane, b, duration)
        for lane_name in ("sync", "signals"):
            if lane_name in lanes:
                ln = lanes[lane_name]
                p.fillRect(QRectF(x0, ln.top(), max(2.0, x1 - x0), ln.height()), MISMATCH_COLOUR)
    mid = sync_lane.center().y()
    p.setPen(QPen(GRID_COLOUR, 1, Qt.PenStyle.DashLine))
    p.drawLine(QPointF(sync_lane.left(), mid), QPointF(sync_lane.right(), mid))
    if ev.lipsync_offsets:
        span = max([DEFAULT_OFFSET_RANGE_MS] + [abs(v) * 1.1 for _, v in ev.lipsync_offsets])
        _line(p, sync_lane, ev.lipsync_offsets, duration, -span, span, OFFSET_COLOUR, 1.6)
        p.setPen(QPen(OFFSET_COLOUR, 1))
        for t, v in ev.lipsync_offsets:
            y = mid - (v / span) * (sync_lane.height() / 2)
            p.drawEllipse(QPointF(_x(sync_lane, t, duration), y), 2, 2)
        p.setPen(QColor("#607d8b"))
        p.drawText(QRectF(sync_lane.left() + 3, sync_lane.top(), 120, 14), Qt.AlignmentFlag.AlignLeft, f"+{span:.0f} ms")
        p.drawText(QRectF(sync_lane.left() + 3, sync_lane.bottom() - 14, 120, 14), Qt.AlignmentFlag.AlignLeft, f"−{span:.0f} ms")
    elif not ev.mismatch_segments:
        text = "no lip-sync data for this recording"
        if ev.lipsync_offset_ms is not None:
            text = f"overall offset {ev.lipsync_offset_ms:+.0f} ms (no per-window data)"
        _empty(p, sync_lane, text)

    if "signals" in lanes:
        ln = lanes["signals"]
        for pts, colour in ((ev.voice, VOICE_COLOUR), (ev.mouth, MOUTH_COLOUR)):
            if pts:
                vals = [v for _, v in pts]
                lo, hi = min(vals), max(vals)
                _line(p, ln, pts, duration, lo, hi if hi > lo else lo + 1, colour, 1.2)

    if "identity" in lanes:
        ln = lanes["identity"]
        hi = max([1.0] + [v for _, v in ev.id_distance])
        if ev.id_threshold is not None:
            y = ln.bottom() - min(ev.id_threshold, hi) / hi * ln.height()
            p.setPen(QPen(QColor("#c62828"), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(ln.left(), y), QPointF(ln.right(), y))
        _line(p, ln, ev.id_distance, duration, 0.0, hi, ID_COLOUR, 1.5)
        p.setPen(QPen(ID_COLOUR, 1))
        for t, v in ev.id_distance:
            p.drawEllipse(QPointF(_x(ln, t, duration), ln.bottom() - min(v, hi) / hi * ln.height()), 2, 2)

    # who speaks: a thin band under the lanes (no height of its own): the candidate's voice
    # excerpt and the stretches of a second voice
    for spans, colour in (([ev.voice_excerpt] if ev.voice_excerpt else [], EXCERPT_COLOUR), (ev.second_voice, SECOND_VOICE_COLOUR)):
        for a, b in spans:
            x0, x1 = _x(plot, max(0.0, a), duration), _x(plot, min(b, duration), duration)
            p.fillRect(QRectF(x0, plot.bottom() + 1, max(2.0, x1 - x0), VOICE_BAND_PX), colour)

    # time axis
    p.setPen(QColor("#546e7a"))
    step = _nice_step(duration)
    t = 0.0
    while t <= duration + 1e-6:
        x = _x(plot, t, duration)
        p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 4))
        label_x = min(x - 30, area.right() - 60)  # the last label stays inside the picture
        p.drawText(QRectF(label_x, plot.bottom() + 4, 60, AXIS_HEIGHT - 4),
                   Qt.AlignmentFlag.AlignHCenter if label_x == x - 30 else Qt.AlignmentFlag.AlignRight, f"{t:g} s")
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


def timeline_image(ev: RecordingEvidence, width: int = 900, height: int | None = None) -> QImage:
    """The timeline as a picture (for the PDF report)."""
    height = height or timeline_height(ev)
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
        # full lanes when there is room, compact ones on a short window (the picture never overlaps)
        self.setMinimumHeight(timeline_height(evidence, COMPACT_LANE_HEIGHT))
        self.setMaximumHeight(timeline_height(evidence))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to show this moment in the player")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, timeline_height(self.evidence))

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
