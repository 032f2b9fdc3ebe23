"""Pictures for the widgets: base64 PNG evidence, numpy frames and photo files as QPixmaps."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

log = logging.getLogger(__name__)


def pixmap_from_b64(data: str | None, size: int | None = None) -> QPixmap | None:
    if not data:
        return None
    try:
        raw = base64.b64decode(data.split(",", 1)[-1] if data.startswith("data:") else data)
    except (ValueError, TypeError):
        return None
    pm = QPixmap()
    if not pm.loadFromData(QByteArray(raw)):
        return None
    return scaled(pm, size) if size else pm


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """A deep-copied QImage of an (h, w, 3) uint8 array."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()


def pixmap_from_file(path: str | Path, size: int | None = None) -> QPixmap | None:
    """A photo from disk (EXIF orientation applied by Qt's reader)."""
    from PySide6.QtGui import QImageReader

    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    if size:
        s = reader.size()
        if s.isValid() and max(s.width(), s.height()) > 2 * size:
            k = 2 * size / max(s.width(), s.height())
            reader.setScaledSize(s * k)
    img = reader.read()
    if img.isNull():
        return None
    pm = QPixmap.fromImage(img)
    return scaled(pm, size) if size else pm


def scaled(pm: QPixmap, size: int) -> QPixmap:
    return pm.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def video_thumbnail(path: str | Path, size: int = 160, t: float = 1.0) -> QPixmap | None:
    """A frame from near the start of a recording (None when it cannot be decoded)."""
    try:
        from .player import FrameSource

        src = FrameSource(str(path), max_width=size * 2)
        try:
            img = src.frame_at(min(t, max(0.0, src.duration - 0.1)))
        finally:
            src.close()
    except Exception:  # noqa: BLE001 - a thumbnail is decoration
        return None
    return scaled(QPixmap.fromImage(img), size) if img is not None else None


def placeholder(size: int, text: str = "no face") -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor("#eceff1"))
    p = QPainter(pm)
    p.setPen(QColor("#78909c"))
    p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pm
