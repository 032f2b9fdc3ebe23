"""The app's look: one stylesheet and a drawn icon (no binary assets to ship)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

ACCENT = "#1e5a8a"

STYLESHEET = f"""
QWidget {{ font-size: 10pt; }}
QLabel#CandidateName {{ font-size: 20pt; font-weight: 700; color: #263238; }}
QLabel#SectionTitle {{ font-size: 11pt; font-weight: 700; color: #37474f; margin-top: 6px; }}
QLabel#Hint {{ color: #607d8b; }}
QPushButton {{ padding: 5px 12px; }}
QPushButton#Primary {{ background: {ACCENT}; color: white; border: none; border-radius: 4px; font-weight: 600; }}
QPushButton#Primary:disabled {{ background: #90a4ae; }}
QPushButton#Primary:hover {{ background: #2a6fa8; }}
QPushButton#Danger {{ color: #b71c1c; }}
QPushButton#Danger:disabled {{ color: #90a4ae; }}
QListWidget::item {{ padding: 6px 4px; border-bottom: 1px solid #eceff1; }}
QListWidget::item:selected {{ background: #d6e6f3; color: #102027; }}
QFrame#PictureCard {{ background: white; border: 1px solid #cfd8dc; border-radius: 6px; }}
QTableWidget {{ gridline-color: #e0e6ea; }}
QProgressBar {{ border: 1px solid #b0bec5; border-radius: 3px; text-align: center; height: 16px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
"""


def app_icon() -> QIcon:
    """A magnifier over a face outline, drawn at start-up."""
    pm = QPixmap(64, 64)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(ACCENT))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(2, 2, 60, 60), 12, 12)
    p.setPen(QColor("white"))
    f = QFont()
    f.setBold(True)
    f.setPixelSize(40)
    p.setFont(f)
    p.drawText(QRectF(2, 2, 60, 60), Qt.AlignmentFlag.AlignCenter, "T")
    p.end()
    return QIcon(pm)
