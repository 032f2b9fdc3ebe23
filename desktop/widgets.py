"""Small reusable widgets: the score badge, picture cards, a flowing grid and the drop zone."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QLayout, QLayoutItem, QVBoxLayout, QWidget, QWidgetItem

from . import engine


MUTED_CONFIDENCE = 0.3
"""Below this evidence coverage the score is shown small and grey: too little was judged for a
big number (the same bound under which the engine never calls a candidate authentic). Not for a
likely-fake verdict: that rests on a decisive sign, which needs little coverage (a voice heard
under another name in an audio-only screening call)."""
MUTED_COLOUR = "#90a4ae"
BADGE_LABELS = ("Authentic", "Needs review", "Likely fake", "Not analysed")


class ScoreBadge(QFrame):
    """The score, large, over the verdict in its colour; small and grey when little was judged,
    with "out of date" when the results no longer match the library."""

    def __init__(self, big: int = 54, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScoreBadge")
        self.big = big
        self.muted = False
        self.score_label = QLabel("–", self)
        self.score_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.score_label.setStyleSheet(f"font-size: {big}px; font-weight: 700; color: white;")
        self.verdict_label = QLabel("Not analysed", self)
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict_label.setStyleSheet(f"font-size: {max(13, big // 3)}px; font-weight: 600; color: white;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 10)
        layout.setSpacing(0)
        layout.addWidget(self.score_label)
        layout.addWidget(self.verdict_label)
        self.stale = False
        from PySide6.QtGui import QFont, QFontMetrics

        bold = QFont(self.verdict_label.font())
        bold.setPixelSize(max(13, big // 3))
        bold.setBold(True)  # at least as wide as the label's semi-bold
        longest = max(QFontMetrics(bold).horizontalAdvance(t) for t in (*BADGE_LABELS, "Too little judged"))
        self.setFixedWidth(max(int(big * 3.2), longest + 40))  # fixed: a new verdict never moves the page
        self.setFixedHeight(int(big * 1.25) + max(13, big // 3) + 26)
        self.set_report(None)

    def set_report(self, report: dict[str, Any] | None, stale: bool = False) -> None:
        size = self.big
        self.muted = False
        if not report:
            self.score_label.setText("–")
            self.verdict_label.setText("Not analysed")
            colour = engine.verdict_colour(None)
            self.setToolTip("")
        else:
            score = engine.finite(report.get("score"))
            conf = engine.finite(report.get("confidence"))
            self.score_label.setText(f"{score:.0f}" if score is not None else "–")
            self.verdict_label.setText(engine.verdict_label(report.get("verdict")))
            colour = engine.verdict_colour(report.get("verdict"))
            self.setToolTip(f"Score {score:.0f} of 100 (100 = no sign of manipulation found); evidence coverage "
                            f"{conf:.0%}." if score is not None and conf is not None else "")
            if conf is not None and conf < MUTED_CONFIDENCE and report.get("verdict") == "likely-fake" and score is not None:
                # a decisive sign (the same face, photo or voice under another name) needs little
                # coverage: it is never greyed out as "too little judged"
                self.setToolTip(f"Likely fake on a decisive sign (see the reasons), although only {conf:.0%} of the "
                                "evidence could be judged.")
            elif conf is not None and conf < MUTED_CONFIDENCE:
                self.muted = True
                size = max(14, self.big // 2)
                colour = MUTED_COLOUR
                self.verdict_label.setText("Too little judged")
                self.setToolTip(f"Only {conf:.0%} of the evidence could be judged (no face, no audio or no ID photo): "
                                f"the score {score:.0f} says little. Review by hand." if score is not None else "")
        self.stale = bool(stale and report)
        border = "border: 3px dashed #ffd54f;" if self.stale else ""
        if self.stale:
            self.setToolTip("Out of date: the library changed after this analysis (see the reasons). Re-analyse. "
                            + self.toolTip())
        self.score_label.setStyleSheet(f"font-size: {size}px; font-weight: 700; color: white;")
        self.setStyleSheet(f"#ScoreBadge {{ background: {colour}; border-radius: 10px; {border} }}")

    @property
    def score_text(self) -> str:
        return self.score_label.text()


class PictureCard(QFrame):
    """A picture (or several side by side) with a caption; emits ``clicked`` when pressed."""

    clicked = Signal()

    def __init__(self, pixmaps: list[QPixmap | None], caption: str, size: int = 130, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtWidgets import QHBoxLayout

        from .images import placeholder

        self.setObjectName("PictureCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout()
        row.setSpacing(4)
        for pm in pixmaps:
            lab = QLabel(self)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setPixmap(pm if pm is not None else placeholder(size))
            lab.setFixedSize(size, size)
            row.addWidget(lab)
        width = max(size, (size + 4) * len(pixmaps) - 4)
        cap = QLabel(self)
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        metrics = cap.fontMetrics()
        lines = [metrics.elidedText(line, Qt.TextElideMode.ElideMiddle, width - 8) for line in caption.split("\n")]
        cap.setText("\n".join(lines))  # one line per caption line, never wrapped: the card's height is exact
        cap.setFixedWidth(width)
        if lines != caption.split("\n"):
            cap.setToolTip(caption)
        self.pixmaps = pixmaps
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(cap)
        self.caption = caption

    enlargeRequested = Signal()  # noqa: N815 - double click: show the pictures large

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        self.enlargeRequested.emit()
        super().mouseDoubleClickEvent(event)


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping to the next row (Qt's flow layout example)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 8) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802
        self._items.append(item)

    def addWidget(self, w: QWidget) -> None:  # noqa: N802
        self.addChildWidget(w)
        self.addItem(QWidgetItem(w))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._do_layout(QRect(0, 0, width, 0), True)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._do_layout(rect, False)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _do_layout(self, rect: QRect, test: bool) -> int:
        m = self.contentsMargins()
        x, y = rect.x() + m.left(), rect.y() + m.top()
        line_h = 0
        right = rect.right() - m.right()
        for item in self._items:
            hint = item.sizeHint()
            nx = x + hint.width() + self._spacing
            if nx - self._spacing > right and line_h > 0:
                x = rect.x() + m.left()
                y += line_h + self._spacing
                nx = x + hint.width() + self._spacing
                line_h = 0
            if not test:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x = nx
            line_h = max(line_h, hint.height())
        return y + line_h - rect.y() + m.bottom()


def clear_layout(layout: QLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        w = item.widget()
        if w is not None:
            w.setParent(None)
            w.deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())


def section_title(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setObjectName("SectionTitle")
    return lab


def hint_label(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setObjectName("Hint")
    lab.setWordWrap(True)
    return lab


COLOUR_SCALES = {
    # the colour maps the engine draws its heat maps with (cv2.COLORMAP_*), as gradient stops
    "inferno": ["#000004", "#420a68", "#932667", "#dd513a", "#fca50a", "#fcffa4"],
    "viridis": ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"],
}
ENLARGED_PX = 384


class ColourScale(QWidget):
    """A horizontal colour bar with its two ends labelled."""

    def __init__(self, stops: list[str], low: str, high: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stops, self.low, self.high = stops, low, high
        self.setFixedHeight(38)
        self.setMinimumWidth(220)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        from PySide6.QtGui import QColor, QLinearGradient, QPainter

        p = QPainter(self)
        bar = QRect(4, 2, self.width() - 8, 16)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for i, c in enumerate(self.stops):
            grad.setColorAt(i / max(1, len(self.stops) - 1), QColor(c))
        p.fillRect(bar, grad)
        p.setPen(QColor("#37474f"))
        p.drawText(QRect(4, 20, self.width() // 2, 16), Qt.AlignmentFlag.AlignLeft, self.low)
        p.drawText(QRect(self.width() // 2, 20, self.width() // 2 - 4, 16), Qt.AlignmentFlag.AlignRight, self.high)
        p.end()


def show_enlarged(parent: QWidget | None, title: str, pictures: list[tuple[QPixmap | None, str]], note: str = "",
                  scale: str | None = None, low: str = "low", high: str = "high") -> Any:
    """A non-modal window with the pictures large (each with its label), a note and, for heat
    maps, the colour scale. Returns the dialog."""
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QScrollArea

    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    inner = QWidget()
    row = QHBoxLayout(inner)
    for pm, label in pictures:
        col = QVBoxLayout()
        pic = QLabel()
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if pm is not None and not pm.isNull():
            pic.setPixmap(pm.scaled(ENLARGED_PX, ENLARGED_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.SmoothTransformation))
        else:
            pic.setText("(no picture)")
        col.addWidget(pic)
        col.addWidget(QLabel(label), 0, Qt.AlignmentFlag.AlignHCenter)
        row.addLayout(col)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(inner)
    layout = QVBoxLayout(dialog)
    layout.addWidget(area, 1)
    if scale in COLOUR_SCALES:
        layout.addWidget(ColourScale(COLOUR_SCALES[scale], low, high))
    if note:
        layout.addWidget(hint_label(note))
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout.addWidget(buttons)
    dialog.resize(min(1000, 40 + (ENLARGED_PX + 12) * max(1, len(pictures))), ENLARGED_PX + 190)
    dialog.show()
    return dialog


def elided(label: QLabel, text: str, width: int) -> None:
    """Set ``text`` on a one-line label, elided to ``width`` px, the whole text in the tooltip."""
    short_text = label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(20, width))
    label.setText(short_text)
    label.setToolTip(text if short_text != text else "")
