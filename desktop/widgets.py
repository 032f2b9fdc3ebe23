"""Small reusable widgets: the score badge, picture cards, a flowing grid and the drop zone."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QLayout, QLayoutItem, QVBoxLayout, QWidget, QWidgetItem

from . import engine


class ScoreBadge(QFrame):
    """The score, large, over the verdict in its colour."""

    def __init__(self, big: int = 54, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScoreBadge")
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
        self.setMinimumWidth(int(big * 3.2))
        self.set_report(None)

    def set_report(self, report: dict[str, Any] | None) -> None:
        if not report:
            self.score_label.setText("–")
            self.verdict_label.setText("Not analysed")
            colour = engine.verdict_colour(None)
        else:
            score = engine.finite(report.get("score"))
            self.score_label.setText(f"{score:.0f}" if score is not None else "–")
            self.verdict_label.setText(engine.verdict_label(report.get("verdict")))
            colour = engine.verdict_colour(report.get("verdict"))
        self.setStyleSheet(f"#ScoreBadge {{ background: {colour}; border-radius: 10px; }}")

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
        cap = QLabel(caption, self)
        cap.setWordWrap(True)
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap.setMaximumWidth(max(size, (size + 4) * len(pixmaps)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(cap)
        self.caption = caption

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


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
